// The image-search service's settings as facefill reads them: its .env syntax, its URL forms, its defaults, and the
// environment winning over the file as in the service.
#include "facefill/service_settings.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "test_support.h"

namespace facefill {
namespace {

using testing::TempDir;

class ServiceSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"DATABASE_URL", "QDRANT_URL", "QDRANT_API_KEY", "QDRANT_FACE_COLLECTION", "REDIS_URL",
                             "database_url", "qdrant_url"}) {
      unsetenv(name);
    }
  }
  void TearDown() override { SetUp(); }
  std::string Write(const std::string& text) {
    std::ofstream(dir_ / ".env") << text;
    return (dir_ / ".env").string();
  }
  TempDir dir_;
};

TEST_F(ServiceSettingsTest, ReadsTheServicesEnvFile) {
  auto s = LoadServiceSettings(
      Write("# settings\nDATABASE_URL=postgresql+asyncpg://svc:pw@db:5432/image_search\nexport QDRANT_URL="
            "\"https://qdrant.example:6334\"\nqdrant_api_key='k3y'\nQDRANT_FACE_COLLECTION=faces_v2  # renamed\n"
            "REDIS_URL=redis://cache:6379/2\nUNRELATED=1\n"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->database_url, "postgresql://svc:pw@db:5432/image_search");
  EXPECT_EQ(s->qdrant_url, "https://qdrant.example:6334");
  EXPECT_EQ(s->qdrant_api_key, "k3y");
  EXPECT_EQ(s->face_collection, "faces_v2");
  EXPECT_EQ(s->redis_url, "redis://cache:6379/2");
  EXPECT_EQ(s->VectorStoreUrl(), "https://qdrant.example:6334/faces_v2");
}

TEST_F(ServiceSettingsTest, TheEnvironmentWinsAndDefaultsFillTheRest) {
  setenv("QDRANT_URL", "http://10.0.0.9:6333/", 1);
  setenv("database_url", "postgresql+psycopg2://u@h/d", 1);
  auto s = LoadServiceSettings(Write("QDRANT_URL=http://from-file:6333\n"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->qdrant_url, "http://10.0.0.9:6333/");
  EXPECT_EQ(s->VectorStoreUrl(), "http://10.0.0.9:6333/faces");
  EXPECT_EQ(s->database_url, "postgresql://u@h/d");
  auto defaults = LoadServiceSettings("-");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->face_collection, "faces");
  EXPECT_EQ(defaults->redis_url, "redis://localhost:6379/0");
}

TEST_F(ServiceSettingsTest, AMissingFileIsAnError) {
  auto s = LoadServiceSettings((dir_ / "nope.env").string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(LibpqUrl("postgresql+asyncpg://a@b/c"), "postgresql://a@b/c");
  EXPECT_EQ(LibpqUrl("sqlite:x.db"), "sqlite:x.db");
}

}  // namespace
}  // namespace facefill
