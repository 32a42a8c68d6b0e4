// The face index's meta file and atomic writes.
#include "index_files.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace facefill::index_files {

std::string MetaToJson(const IndexMeta& m) {
  const nlohmann::json j = {{"version", m.version},      {"dimension", m.dimension},
                            {"model", m.model},          {"count", m.count},
                            {"max_row", m.max_row},      {"max_face_id", m.max_face_id},
                            {"m", m.max_connections},    {"ef_construction", m.ef_construction},
                            {"generation", m.generation}};
  return j.dump(2);
}

std::optional<IndexMeta> MetaFromJson(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  IndexMeta m;
  try {
    m.version = j.at("version");
    m.dimension = j.at("dimension");
    m.model = j.at("model");
    m.count = j.at("count");
    m.max_row = j.at("max_row");
    m.max_face_id = j.at("max_face_id");
    m.max_connections = j.at("m");
    m.ef_construction = j.at("ef_construction");
    m.generation = j.at("generation");
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  if (m.generation.size() != 16) return std::nullopt;
  return m;
}

std::optional<IndexMeta> ReadMeta(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(in)), {});  // a few hundred bytes
  return MetaFromJson(text);
}

Status WriteMeta(const std::string& path, const IndexMeta& meta) {
  const std::string text = MetaToJson(meta) + "\n";
  return WriteAtomically(path, {text});
}

std::string NewGeneration() {
  std::random_device random;
  return fmt::format("{:08x}{:08x}", random(), random());
}

Status WriteAtomically(const std::string& path, std::initializer_list<std::string_view> parts) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    for (const auto part : parts) out.write(part.data(), static_cast<std::streamsize>(part.size()));
    out.close();
    if (!out) return Status(StatusCode::kIoError, "write " + tmp + " failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status(StatusCode::kIoError, "rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

}  // namespace facefill::index_files
