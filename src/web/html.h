// HTML building blocks for the web pages: escaping, and the page frame with its embedded style and script.
#pragma once

#include <string>
#include <string_view>

namespace facefill::web {

// Text or attribute value made safe for HTML: & < > " ' are written as entities.
std::string Escape(std::string_view text);

// Which navigation entry a page belongs to.
enum class Section { kPeople, kSearch, kStatus, kNone };

// A whole page: doctype, head with the embedded CSS, navigation, `body` (already escaped HTML) and the embedded
// script. `title` is escaped here.
std::string Page(std::string_view title, Section section, std::string_view body);

// A page for an error: status line and message (escaped), with a link back.
std::string ErrorPage(int http_status, std::string_view message);

}  // namespace facefill::web
