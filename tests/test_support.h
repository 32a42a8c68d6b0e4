// Helpers for facefill tests: locating ../shared and the default pack, temporary folders, file writers.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "child_process.h"
#include "facefill/analyzer.h"

namespace facefill::testing {

// ../shared beside the project (or $FACEFILL_SHARED). Empty when absent.
std::filesystem::path SharedDir();

// The default model pack installed by scripts/setup.sh. Empty when absent.
std::filesystem::path DefaultPackDir();

// Opens the default pack's analyzer (with `detector` in place of the pack's, when given); null (with a gtest
// failure) when it cannot.
std::unique_ptr<FaceAnalyzer> OpenDefaultAnalyzer(const std::filesystem::path& detector = {});

// True when running in CI (CI=true): missing test data is then a failure, not a skip.
bool InCi();

// A fresh temporary folder removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// PostgreSQL and Redis started for the tests by the CTest fixture (scripts/services.sh).
struct TestServices {
  std::string pg_admin;  // the maintenance database, for CREATE DATABASE
  std::string redis;     // redis://127.0.0.1:PORT (no database number)
};
// Null (with a test failure saying why) when the services are not running: service tests never skip.
const TestServices* Services();
// A new database on the test server; returns its URL. With `standalone` it holds the service's tables as
// `--standalone` creates them (a database of facefill's own); otherwise it is empty.
std::string FreshPostgresDatabase(const std::string& name, bool standalone = true);

// `models batchify` of `model` into `dir` (same file name), verified on the shared photos; a gtest failure if refused.
std::filesystem::path BatchifiedCopy(const std::filesystem::path& model, const TempDir& dir);

// A new database on the test server holding the image-search service's schema at its Alembic head
// (../shared/service/schema.sql), as the service's migrations leave it. Its URL; a test failure when it cannot load.
std::string FreshServiceDatabase(const std::string& name);
// Writes the service's settings file (.env) at `path`: `database_url` in its asyncpg form, the Qdrant of `qdrant_url`
// (qdrant://HOST:PORT/COLLECTION) as QDRANT_URL and QDRANT_FACE_COLLECTION, then `extra` lines. Returns `path`.
std::string WriteServiceEnv(const std::filesystem::path& path, const std::string& database_url,
                            const std::string& qdrant_url, const std::string& extra = "");

// `s` quoted for a POSIX shell command line.
std::string ShellQuote(const std::string& s);
// Runs `program` with `args` (each quoted) through the shell, stdout and stderr together.
ChildResult RunQuoted(const std::string& program, const std::vector<std::string>& args);
// The last line of a command's output that is a JSON object or array (null when none is).
nlohmann::json LastJsonLine(const std::string& output);

// An EXIF block (TIFF header and IFD0) holding only the Orientation tag.
std::vector<uint8_t> ExifBlock(uint16_t orientation);
// `jpeg` with an APP1 EXIF segment holding only `orientation` inserted right after its SOI marker.
std::vector<uint8_t> WithExifOrientation(const std::vector<uint8_t>& jpeg, uint16_t orientation);

void WriteBytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> ReadBytes(const std::filesystem::path& path);

}  // namespace facefill::testing

// Skips (locally) or fails (in CI) a test whose data is missing, saying what is missing.
#define FACEFILL_REQUIRE_PATH(path, what)                                                        \
  do {                                                                                           \
    if ((path).empty() || !std::filesystem::exists(path)) {                                      \
      if (::facefill::testing::InCi()) FAIL() << "missing " << (what) << " (required in CI)";    \
      GTEST_SKIP() << "missing " << (what) << "; run scripts/setup.sh / place ../shared beside"; \
    }                                                                                            \
  } while (0)
