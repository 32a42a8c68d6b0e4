// Page bodies: plain HTML with data-* attributes the browser test reads, images by catalog id only.
#include "pages.h"

#include <fmt/format.h>

#include <algorithm>

#include "html.h"

namespace facefill::web {
namespace {

std::string PersonLabel(const PeopleCluster& c) { return c.person_name.empty() ? "Unnamed person" : c.person_name; }

std::string FaceCrop(const std::string& face_id, int64_t asset_id, const std::string& caption, bool same = false) {
  return fmt::format(
      "<a class=\"face{}\" href=\"/photo/{}#face-{}\" data-face=\"{}\"><img loading=\"lazy\" alt=\"face\" "
      "src=\"/crop/{}.jpg\"><div class=\"meta\">{}</div></a>",
      same ? " same" : "", asset_id, Escape(face_id), Escape(face_id), Escape(face_id), caption);
}

std::string TokenField(const std::string& token) {
  return fmt::format("<input type=\"hidden\" name=\"token\" value=\"{}\">", Escape(token));
}

}  // namespace

std::string PeoplePage(const std::vector<PeopleCluster>& clusters, const std::vector<FaceView>& unclustered,
                       int64_t unclustered_total) {
  std::string body = fmt::format("<h1>People <span class=\"note\">{} clusters</span></h1>", clusters.size());
  if (clusters.empty()) {
    body += "<p class=\"note\">No clusters yet: <code>facefill cluster</code> groups the faces.</p>";
  }
  body += "<div class=\"grid\" id=\"people\">";
  for (const auto& c : clusters) {
    body += fmt::format(
        "<a class=\"tile\" href=\"/person/{0}\" data-cluster=\"{0}\" data-faces=\"{1}\"><img loading=\"lazy\" "
        "alt=\"\" src=\"/crop/{2}.jpg\"><div class=\"name\">{3}</div><div class=\"meta\">{1} {5} · {4} "
        "{6}</div></a>",
        Escape(c.cluster_id), c.faces, Escape(c.face_id), Escape(PersonLabel(c)), c.photos,
        c.faces == 1 ? "face" : "faces", c.photos == 1 ? "photo" : "photos");
  }
  body += "</div>";
  body += fmt::format(
      "<h2>Unclustered faces <span class=\"note\">{}{}</span></h2><div class=\"faces\" "
      "id=\"unclustered\">",
      unclustered_total,
      unclustered_total > static_cast<int64_t>(unclustered.size())
          ? fmt::format(", the best {} shown", unclustered.size())
          : "");
  for (const auto& f : unclustered) {
    body += FaceCrop(f.id, f.asset_id, fmt::format("{:.2f}", f.detection_confidence));
  }
  body += "</div>";
  return Page("People", Section::kPeople, body);
}

std::string PersonPage(const PeopleCluster& cluster, const std::vector<FaceView>& faces,
                       const std::vector<PeopleCluster>& others, const std::string& token, bool writable,
                       const std::string& notice) {
  std::string body =
      fmt::format("<h1 id=\"person-name\">{}</h1><p class=\"note\">cluster <code>{}</code> · {} {} · {} {}</p>",
                  Escape(PersonLabel(cluster)), Escape(cluster.cluster_id), cluster.faces,
                  cluster.faces == 1 ? "face" : "faces", cluster.photos, cluster.photos == 1 ? "photo" : "photos");
  if (!notice.empty()) body += fmt::format("<p class=\"error\" id=\"notice\">{}</p>", Escape(notice));
  const std::string action = "/person/" + Escape(cluster.cluster_id);
  if (writable) {
    body += fmt::format(
        "<form class=\"inline\" method=\"post\" action=\"{}/name\">{}<input name=\"name\" required maxlength=\"200\" "
        "placeholder=\"Name\" value=\"{}\"><button id=\"name-button\">Name</button></form>",
        action, TokenField(token), Escape(cluster.person_name));
    if (!others.empty()) {
      body += fmt::format("<form class=\"inline\" method=\"post\" action=\"{}/merge\">{}<select name=\"from\">", action,
                          TokenField(token));
      for (const auto& o : others) {
        body += fmt::format("<option value=\"{}\">{} ({} faces)</option>", Escape(o.cluster_id), Escape(PersonLabel(o)),
                            o.faces);
      }
      body += "</select><button>Merge into this person</button></form>";
    }
  } else {
    body +=
        "<p class=\"note\" id=\"read-only\">Read-only: this catalog is on PostgreSQL and is not edited from the web "
        "page. Naming, merging and moving faces out work on the embedded catalog; the image-search service's people "
        "are named in the service.</p>";
  }
  body += "<div class=\"faces\" id=\"faces\">";
  for (const auto& f : faces) {
    body += "<div>" + FaceCrop(f.id, f.asset_id, fmt::format("{:.2f}", f.detection_confidence));
    body += fmt::format("<a class=\"note\" href=\"/search?face={}\">similar</a>", Escape(f.id));
    if (writable) {
      body += fmt::format(
          "<form method=\"post\" action=\"/face/{}/split\">{}<button title=\"Move this face out into a cluster of "
          "its own\">move out</button></form>",
          Escape(f.id), TokenField(token));
    }
    body += "</div>";
  }
  body += "</div>";
  return Page(PersonLabel(cluster), Section::kPeople, body);
}

std::string PhotoPage(const AssetView& asset, const std::vector<FaceView>& faces) {
  const std::string name = asset.path.substr(asset.path.find_last_of('/') + 1);
  std::string body = fmt::format("<h1>{}</h1><p class=\"note\">{} · {}×{} · {} faces</p>", Escape(name),
                                 Escape(asset.path), asset.width, asset.height, faces.size());
  body += fmt::format(
      "<div class=\"photo\" id=\"photo\"><img alt=\"{}\" src=\"/image/{}.jpg\" width=\"{}\" "
      "height=\"{}\">",
      Escape(name), asset.id, asset.width, asset.height);
  if (asset.width > 0 && asset.height > 0) {
    // Drawn in the photo's own pixels: the viewBox scales them with the image.
    const double stroke = std::max(2.0, std::max(asset.width, asset.height) / 300.0);
    body += fmt::format("<svg viewBox=\"0 0 {} {}\" preserveAspectRatio=\"none\">", asset.width, asset.height);
    for (const auto& f : faces) {
      body += fmt::format(
          "<g class=\"face-box\" id=\"face-{}\"><rect class=\"box\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" "
          "stroke-width=\"{:.1f}\"></rect>",
          Escape(f.id), f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, stroke);
      // Marks and labels sized by the face, so a crowd's small faces stay readable.
      const double face = std::max(f.bbox_w, f.bbox_h);
      if (f.landmarks) {
        for (const auto& p : *f.landmarks) {
          body += fmt::format("<circle class=\"landmark\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:.1f}\"></circle>", p.x, p.y,
                              std::clamp(face / 30, 1.0, stroke * 1.2));
        }
      }
      body += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{:.0f}\">{:.2f}</text></g>", f.bbox_x,
                          std::max(0, f.bbox_y - 4), std::clamp(face * 0.3, stroke * 3, stroke * 7),
                          f.detection_confidence);
    }
    body += "</svg>";
  }
  body += "</div><h2>Faces</h2><table><tr><th></th><th>score</th><th>quality</th><th>box</th><th>person</th></tr>";
  for (const auto& f : faces) {
    body += fmt::format(
        "<tr><td><img src=\"/crop/{0}.jpg\" alt=\"\" width=\"48\" loading=\"lazy\"></td><td>{1:.3f}</td>"
        "<td>{2:.3f}</td><td>{3} {4} {5}×{6}</td><td>{7}</td></tr>",
        Escape(f.id), f.detection_confidence, f.quality_score, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h,
        f.cluster_id.empty() ? std::string("<span class=\"note\">unclustered</span>")
                             : fmt::format("<a href=\"/person/{}\">{}</a>", Escape(f.cluster_id),
                                           Escape(f.person_name.empty() ? "cluster" : f.person_name)));
  }
  body += "</table>";
  return Page(name, Section::kNone, body);
}

std::string SearchPage(const std::string& token, bool can_upload, const std::vector<SearchResultView>* results,
                       std::optional<float> same_person, const std::string& note) {
  std::string body = "<h1>Search</h1>";
  if (can_upload) {
    body += fmt::format(
        "<form method=\"post\" action=\"/search\" enctype=\"multipart/form-data\" id=\"search-form\">{}"
        "<input type=\"file\" name=\"photo\" accept=\"image/*\" required id=\"photo-input\"> "
        "<button id=\"search-button\">Find similar faces</button></form>",
        TokenField(token));
  } else {
    body +=
        "<p class=\"note\">Search by photo needs a model pack (--models); pick a face's “similar” link "
        "instead.</p>";
  }
  if (!note.empty()) body += fmt::format("<p class=\"note\" id=\"search-note\">{}</p>", Escape(note));
  if (results == nullptr) return Page("Search", Section::kSearch, body);
  if (same_person) {
    body += fmt::format("<p class=\"note\">Green: likely the same person (similarity ≥ {:.2f}).</p>", *same_person);
  }
  body += "<div id=\"results\">";
  for (const auto& r : *results) {
    body += fmt::format("<section class=\"query\"><h2>{}</h2>", Escape(r.title));
    if (r.face_id) body += "<div class=\"faces\">" + FaceCrop(*r.face_id, 0, "query") + "</div><h2>Similar</h2>";
    body += "<div class=\"faces\">";
    for (const auto& h : r.hits) {
      const bool same = same_person && h.similarity >= *same_person;
      body += FaceCrop(h.face.id, h.face.asset_id, fmt::format("{:.3f}{}", h.similarity, same ? " ✓ same" : ""), same);
    }
    if (r.hits.empty()) body += "<p class=\"note\">No similar faces stored.</p>";
    body += "</div></section>";
  }
  body += "</div>";
  return Page("Search", Section::kSearch, body);
}

std::string StatusPage(const CatalogStats& stats, int64_t vectors, const std::vector<FailedAsset>& failed,
                       bool has_queue) {
  const int64_t pending = stats.assets - stats.scanned - stats.errors;
  const int64_t done = stats.assets > 0 ? 100 * (stats.scanned + stats.errors) / stats.assets : 100;
  std::string body = fmt::format(
      "<h1>Status</h1><div id=\"status\"><div class=\"bar\"><div id=\"progress\" style=\"width:{}%\"></div></div>"
      "<p id=\"progress-text\">{}% processed</p><table>"
      "<tr><th>assets</th><td id=\"n-assets\">{}</td></tr><tr><th>scanned</th><td id=\"n-scanned\">{}</td></tr>"
      "<tr><th>pending</th><td id=\"n-pending\">{}</td></tr><tr><th>errors</th><td id=\"n-errors\">{}</td></tr>"
      "<tr><th>faces</th><td id=\"n-faces\">{}</td></tr><tr><th>vectors</th><td id=\"n-vectors\">{}</td></tr>"
      "</table></div>",
      done, done, stats.assets, stats.scanned, pending, stats.errors, stats.faces, vectors);
  body +=
      "<h2>Running now</h2><div id=\"live\" data-running=\"0\"><p id=\"live-text\">Reading the progress…</p>"
      "<table><tr><th>assets per second</th><td id=\"rate\">–</td></tr><tr><th>time left</th><td id=\"eta\">–</td>"
      "</tr><tr><th>leased to a worker</th><td id=\"n-leased\">0</td></tr></table><table id=\"holders\"></table></div>";
  body += has_queue ? "<h2>Jobs</h2><table id=\"jobs\"><tr><td>none</td></tr></table>"
                    : "<h2>Jobs</h2><p class=\"note\" id=\"no-queue\">No job queue: start serve with --queue to see "
                      "the jobs of `backfill --queue`.</p>";
  body += "<h2>Errors by reason</h2><table id=\"reasons\">";
  for (const auto& [reason, count] : stats.errors_by_reason) {
    body += fmt::format("<tr><th>{}</th><td>{}</td></tr>", Escape(reason), count);
  }
  if (stats.errors_by_reason.empty()) body += "<tr><td>none</td></tr>";
  body += "</table><h2>Failing files</h2><table id=\"failed\">";
  for (const auto& f : failed) {
    body += fmt::format("<tr class=\"failed\"><td>{}</td><td>{}</td><td class=\"note\">{}</td></tr>", Escape(f.reason),
                        Escape(f.path), Escape(f.message));
  }
  if (failed.empty()) body += "<tr><td>none</td></tr>";
  body += "</table>";
  return Page("Status", Section::kStatus, body);
}

}  // namespace facefill::web
