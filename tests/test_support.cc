// Test helpers: shared-data lookup and temporary files.
#include "test_support.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <pqxx/pqxx>
#include <random>
#include <sstream>

#include "facefill/catalog.h"
#include "facefill/model_batchify.h"

namespace facefill::testing {

namespace fs = std::filesystem;

std::filesystem::path SharedDir() {
  if (const char* env = std::getenv("FACEFILL_SHARED"); env != nullptr && *env != '\0') return env;
  fs::path shared = fs::path(FACEFILL_SOURCE_DIR).parent_path() / "shared";
  return fs::exists(shared) ? shared : fs::path();
}

std::filesystem::path DefaultPackDir() {
  fs::path pack(FACEFILL_DEFAULT_MODELS_DIR);
  return fs::exists(pack / "fr_feature.onnx") ? pack : fs::path();
}

std::unique_ptr<FaceAnalyzer> OpenDefaultAnalyzer(const std::filesystem::path& detector) {
  auto pack = LocateModelPack({DefaultPackDir(), detector, ""});
  if (!pack.ok()) {
    ADD_FAILURE() << pack.status().ToString();
    return nullptr;
  }
  auto analyzer = FaceAnalyzer::Open(*pack);
  if (!analyzer.ok()) {
    ADD_FAILURE() << analyzer.status().ToString();
    return nullptr;
  }
  return std::move(analyzer).value();
}

std::filesystem::path BatchifiedCopy(const std::filesystem::path& model, const TempDir& dir) {
  BatchifyOptions options;
  options.sample_images = {SharedDir() / "images"};
  const std::filesystem::path out = dir / model.filename();
  auto report = BatchifyModel(model, out, options);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return out;
}

std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

ChildResult RunQuoted(const std::string& program, const std::vector<std::string>& args) {
  std::string command = program;
  for (const auto& a : args) command += " " + ShellQuote(a);
  return RunShell(command + " 2>&1");
}

nlohmann::json LastJsonLine(const std::string& output) {
  nlohmann::json last;
  std::stringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (!parsed.is_discarded() && (parsed.is_object() || parsed.is_array())) last = std::move(parsed);
  }
  return last;
}

// "Exif\0\0" + a big-endian TIFF block whose IFD0 holds only the Orientation tag.
std::vector<uint8_t> ExifBlock(uint16_t orientation) {
  return {'E',
          'x',
          'i',
          'f',
          0,
          0,
          'M',
          'M',
          0,
          42,
          0,
          0,
          0,
          8,  // big-endian TIFF header, IFD0 at 8
          0,
          1,  // one entry
          0x01,
          0x12,
          0,
          3,
          0,
          0,
          0,
          1,  // tag 0x0112 SHORT count 1
          static_cast<uint8_t>(orientation >> 8),
          static_cast<uint8_t>(orientation & 0xff),
          0,
          0,
          0,
          0,
          0,
          0};  // value, next IFD = 0
}

// Inserts an APP1 EXIF segment with the given Orientation right after the JPEG's SOI marker.
std::vector<uint8_t> WithExifOrientation(const std::vector<uint8_t>& jpeg, uint16_t orientation) {
  std::vector<uint8_t> app1 = {0xFF, 0xE1, 0, 0};
  auto exif = ExifBlock(orientation);
  app1.insert(app1.end(), exif.begin(), exif.end());
  const size_t length = app1.size() - 2;
  app1[2] = static_cast<uint8_t>(length >> 8);
  app1[3] = static_cast<uint8_t>(length & 0xff);
  std::vector<uint8_t> out = jpeg;
  out.insert(out.begin() + 2, app1.begin(), app1.end());
  return out;
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("facefill-test-" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void WriteBytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const TestServices* Services() {
  static const TestServices* services = []() -> const TestServices* {
    std::ifstream in(FACEFILL_SERVICES_ENV);
    if (!in) return nullptr;
    auto* s = new TestServices;
    for (std::string line; std::getline(in, line);) {
      const std::string value = line.substr(line.find('=') + 1);
      if (line.rfind("export FACEFILL_TEST_PG_ADMIN=", 0) == 0) s->pg_admin = value;
      if (line.rfind("export FACEFILL_TEST_REDIS=", 0) == 0) s->redis = value.substr(0, value.rfind('/'));
    }
    return s;
  }();
  if (services == nullptr || services->pg_admin.empty() || services->redis.empty()) {
    ADD_FAILURE() << "PostgreSQL and Redis are not running: " << FACEFILL_SERVICES_ENV
                  << " is missing (run the tests through ctest, which starts them, or scripts/test.sh)";
    return nullptr;
  }
  return services;
}

std::string FreshPostgresDatabase(const std::string& name, bool standalone) {
  const TestServices* services = Services();
  if (services == nullptr) return "";
  static std::atomic<int> counter{0};
  const std::string db = "t_" + name + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  pqxx::connection conn(services->pg_admin);
  pqxx::nontransaction txn(conn);
  txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(db));
  txn.exec("CREATE DATABASE " + txn.quote_name(db));
  const std::string admin = services->pg_admin;
  const std::string url = admin.substr(0, admin.rfind('/') + 1) + db;
  if (standalone) {
    auto created = OpenCatalog(url, {.standalone = true});
    EXPECT_TRUE(created.ok()) << created.status().ToString();
  }
  return url;
}

std::string FreshServiceDatabase(const std::string& name) {
  const std::string url = FreshPostgresDatabase(name, /*standalone=*/false);
  if (url.empty()) return url;
  const auto loaded =
      RunShell("psql -q -v ON_ERROR_STOP=1 -f " + ShellQuote((SharedDir() / "service" / "schema.sql").string()) + " " +
               ShellQuote(url) + " 2>&1");
  EXPECT_EQ(loaded.exit_code, 0) << loaded.out;
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  txn.exec("INSERT INTO alembic_version VALUES ('013_add_discovering_session_status')");
  return url;
}

std::string WriteServiceEnv(const std::filesystem::path& path, const std::string& database_url,
                            const std::string& qdrant_url, const std::string& extra) {
  const std::string host = qdrant_url.substr(9, qdrant_url.rfind('/') - 9);  // after "qdrant://"
  std::ofstream env(path);
  env << "DATABASE_URL=postgresql+asyncpg" << database_url.substr(database_url.find("://")) << "\nQDRANT_URL=http://"
      << host << "\nQDRANT_FACE_COLLECTION=" << qdrant_url.substr(qdrant_url.rfind('/') + 1) << "\n"
      << extra;
  return path.string();
}

}  // namespace facefill::testing
