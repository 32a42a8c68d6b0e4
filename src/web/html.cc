// The page frame: one stylesheet and one small script, embedded so the pages work offline with no other assets.
#include "html.h"

#include <fmt/format.h>

namespace facefill::web {
namespace {

constexpr std::string_view kStyle = R"css(
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f5f5f7}
nav{background:#1d1d1f;padding:10px 20px;display:flex;gap:18px;align-items:center}
nav a{color:#d2d2d7;text-decoration:none}nav a.on{color:#fff;font-weight:600}
nav .brand{color:#fff;font-weight:700;margin-right:12px}
main{padding:16px 20px;max-width:1400px}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:20px 0 8px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
.tile{background:#fff;border-radius:8px;padding:8px;box-shadow:0 1px 2px #0002;text-decoration:none;color:inherit}
.tile img{width:100%;aspect-ratio:1;object-fit:cover;border-radius:6px;background:#ddd;display:block}
.tile .name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tile .meta{color:#6e6e73;font-size:12px}
.faces{display:flex;flex-wrap:wrap;gap:6px}
.face{position:relative;width:96px}
.face img{width:96px;height:96px;object-fit:cover;border-radius:6px;background:#ddd;display:block}
.face .meta{font-size:11px;color:#6e6e73}
.face.same img{outline:3px solid #34c759}
.face form{margin:0}.face button{font-size:11px;padding:1px 4px}
.photo{position:relative;display:inline-block;max-width:100%}
.photo img{display:block;max-width:100%;height:auto}
.photo svg{position:absolute;left:0;top:0;width:100%;height:100%}
.photo rect{fill:none;stroke:#34c759}.photo circle{fill:#ff3b30}
.photo text{fill:#34c759;font-weight:700;paint-order:stroke;stroke:#000;stroke-width:2px}
table{border-collapse:collapse;background:#fff}td,th{padding:4px 10px;border-bottom:1px solid #e5e5ea;text-align:left}
.bar{height:10px;background:#e5e5ea;border-radius:5px;width:320px;overflow:hidden}
.bar div{height:100%;background:#34c759}
.error{background:#ffe5e5;border:1px solid #ff3b30;padding:10px;border-radius:6px}
.note{color:#6e6e73}
form.inline{display:inline-flex;gap:6px;align-items:center;margin:4px 12px 4px 0}
)css";

// Status page: refreshes the counts, the live progress (pace, leases, holders) and the jobs every two seconds from
// /api/status while the page is open (?every=MS polls faster, as the browser test does). Values reach the page as
// text nodes only.
constexpr std::string_view kScript = R"js(
(function(){
  var s=document.getElementById('status');
  if(!s)return;
  function set(id,v){var e=document.getElementById(id);if(e)e.textContent=v;}
  function duration(t){t=Math.round(t);return t<90?t+' s':t<5400?Math.round(t/60)+' min':(t/3600).toFixed(1)+' h';}
  function rows(table,items,cells,empty,decorate){
    if(!table)return;
    while(table.firstChild)table.removeChild(table.firstChild);
    if(!items.length&&empty){items=[null];}
    items.forEach(function(item){
      var tr=document.createElement('tr');
      (item?cells(item):[empty]).forEach(function(c){
        var td=document.createElement('td');
        if(c instanceof Node)td.appendChild(c);else td.textContent=c;
        tr.appendChild(td);
      });
      if(item&&decorate)decorate(tr,item);
      table.appendChild(tr);
    });
  }
  function poll(){
    fetch('/api/status',{cache:'no-store'}).then(function(r){return r.json();}).then(function(j){
      ['assets','scanned','pending','errors','faces','vectors','leased'].forEach(function(k){set('n-'+k,j[k]);});
      var done=j.assets?Math.round(100*(j.scanned+j.errors)/j.assets):100;
      var b=document.getElementById('progress');if(b)b.style.width=done+'%';
      set('progress-text',done+'% processed'+(j.pending>0?' ('+j.pending+' pending)':''));
      var live=document.getElementById('live');
      if(live){
        live.dataset.running=j.running?1:0;
        live.dataset.processed=j.processed;
        live.dataset.rate=j.rate||0;
        set('rate',j.rate==null?'\u2013':j.rate.toFixed(1));
        set('eta',j.eta_s==null||!j.running?'\u2013':duration(j.eta_s));
        set('live-text',j.running?'A backfill is running: '+j.processed+' of '+j.assets+' assets processed'+
            (j.rate>0?', '+j.rate.toFixed(1)+' per second.':'.'):'No backfill is running.');
        rows(document.getElementById('holders'),j.holders,function(h){
          return [h.owner,h.assets+' assets leased','lease ends in '+h.expires_in_s+' s'];
        },null,function(tr,h){tr.className='holder';});
      }
      if(j.queue){
        rows(document.getElementById('jobs'),j.jobs,function(job){
          var bar=document.createElement('progress');
          if(job.total>0){bar.max=job.total;bar.value=Math.min(job.processed,job.total);}
          return [job.id,job.status,bar,job.processed+(job.total>0?' of '+job.total:'')+' assets'+
                  (job.percent!=null?' ('+job.percent+'%)':''),job.faces+' faces, '+job.errors+' errors',
                  job.rate!=null?job.rate.toFixed(1)+' per second':'',job.workers.join(', '),job.error];
        },j.queue_error?'The queue cannot be read: '+j.queue_error:'none',function(tr,job){
          tr.className='job';tr.dataset.job=job.id;tr.dataset.status=job.status;
          tr.dataset.processed=job.processed;tr.dataset.total=job.total;
        });
      }
      s.dataset.polls=(+(s.dataset.polls||0)+1);
    }).catch(function(){});
  }
  var every=+new URLSearchParams(location.search).get('every')||2000;
  setInterval(poll,Math.max(250,every));poll();
})();
)js";

std::string_view NavClass(Section section, Section link) { return section == link ? " class=\"on\"" : ""; }

}  // namespace

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Page(std::string_view title, Section section, std::string_view body) {
  return fmt::format(
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{} · facefill</title>"
      "<style>{}</style></head><body><nav><span class=\"brand\">facefill</span>"
      "<a href=\"/\"{}>People</a><a href=\"/search\"{}>Search</a><a href=\"/status\"{}>Status</a></nav>"
      "<main>{}</main><script>{}</script></body></html>",
      Escape(title), kStyle, NavClass(section, Section::kPeople), NavClass(section, Section::kSearch),
      NavClass(section, Section::kStatus), body, kScript);
}

std::string ErrorPage(int http_status, std::string_view message) {
  return Page(
      "Error " + std::to_string(http_status), Section::kNone,
      fmt::format("<h1>Error {}</h1><p class=\"error\" id=\"error\">{}</p><p><a href=\"/\">Back to People</a></p>",
                  http_status, Escape(message)));
}

}  // namespace facefill::web
