// "sqlite:PATH" / "sqlite://PATH" / bare PATH to a file path.
#pragma once

#include <string>

namespace facefill {

std::string SqlitePathFromUrl(const std::string& url);

}  // namespace facefill
