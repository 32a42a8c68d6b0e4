// Service URLs, redaction and secrets, Redis reply parsing; includes the fuzzers' findings as regression cases.
#include "facefill/url.h"

#include <gtest/gtest.h>

#include <fstream>

#include "queue/redis_client.h"
#include "test_support.h"

namespace facefill {
namespace {

TEST(ServiceUrlTest, ParsesEveryPart) {
  auto u = ParseServiceUrl("Redis://user:p%40ss@cache.local:6380/2?prefix=ff&x");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->scheme, "redis");
  EXPECT_EQ(u->user, "user");
  EXPECT_EQ(u->password, "p@ss");
  EXPECT_EQ(u->host, "cache.local");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->path, "2");
  EXPECT_EQ(u->query.at("prefix"), "ff");
  EXPECT_EQ(u->query.count("x"), 1u);
  auto v6 = ParseServiceUrl("qdrants://[::1]:6334/faces");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6334);
}

TEST(ServiceUrlTest, RejectsBrokenUrlsWithoutShowingThePassword) {
  for (const std::string url : {"no-scheme", "redis://", "redis://:pw-secret@host:0", "redis://host:70000",
                                "redis://host:12ab", "redis://[::1", "redis://host/%zz", "qdrant://:pw-secret@"}) {
    auto u = ParseServiceUrl(url);
    EXPECT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().message().find("pw-secret"), std::string::npos) << u.status().message();
  }
}

// libcurl's URL parser follows RFC 3986 where the old hand parser was lenient: a raw '@' in the user information
// (the old parser split at the last '@') and a raw space are refused, their escaped forms parse, and a fragment is
// not part of the path. The errors still hide the password.
TEST(ServiceUrlTest, FollowsTheUrlStandard) {
  for (const std::string url : {"redis://u:pw-secret@ss@host/0", "redis://:pw-secret@host/a b"}) {
    auto u = ParseServiceUrl(url);
    EXPECT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().message().find("pw-secret"), std::string::npos) << u.status().message();
  }
  // Fuzzer findings on the curl-based parser: curl skips a third slash, stops at a NUL byte, finds a scheme
  // RedactUrl would not (before another "://") and ends the authority at a '#'; each let a parsed password escape
  // redaction, so each is refused (the redaction rules are unchanged: they do not see a password in these).
  using namespace std::string_literals;
  for (const std::string& url :
       {"qirant:///d:pw-secret@hos/x"s, "po://[:pw-secret@host:\0\0]:i@x:qd"s, "t:/p\xa2qdrA[:pw-secret@SSSAn://[:SS"s,
        "qpAl://user:pw-secret@e#ser:pw-secret@e#:/pw-secret:/pw-secret@he"s}) {
    EXPECT_FALSE(ParseServiceUrl(url).ok()) << url;
  }
  auto escaped = ParseServiceUrl("redis://u:pw-secret%40ss@host/a%20b");
  ASSERT_TRUE(escaped.ok()) << escaped.status().ToString();
  EXPECT_EQ(escaped->password, "pw-secret@ss");
  EXPECT_EQ(escaped->path, "a b");
  auto fragment = ParseServiceUrl("qdrant://host:6333/faces?timeout_ms=500#top");
  ASSERT_TRUE(fragment.ok()) << fragment.status().ToString();
  EXPECT_EQ(fragment->path, "faces");
  EXPECT_EQ(fragment->query.at("timeout_ms"), "500");
  auto bare = ParseServiceUrl("http://localhost:6333");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->host, "localhost");
  EXPECT_EQ(bare->port, 6333);
  EXPECT_EQ(bare->path, "");
  EXPECT_TRUE(bare->query.empty());
}

TEST(ServiceUrlTest, RedactsPasswordsEverywhere) {
  EXPECT_EQ(RedactUrl("postgresql://facefill:hunter2@db:5432/x"), "postgresql://facefill:***@db:5432/x");
  EXPECT_EQ(RedactUrl("redis://:hunter2@cache:6379/0"), "redis://:***@cache:6379/0");
  EXPECT_EQ(RedactUrl("postgresql://db/x?user=a&password=hunter2&sslmode=require"),
            "postgresql://db/x?user=a&password=***&sslmode=require");
  EXPECT_EQ(RedactUrl("qdrant://host/faces"), "qdrant://host/faces");
  // Fuzzer finding: an '@' inside the user name; the parser splits at the last '@', and so must redaction.
  EXPECT_EQ(RedactUrl("qdrant://d@V:pw-secret@host/x").find("pw-secret"), std::string::npos);
  // Fuzzer finding: the password repeated later in the text.
  EXPECT_EQ(RedactUrl("postgresql://u:hunter2@h/postgresql://u:hunter2@h").find("hunter2"), std::string::npos);
}

TEST(ServiceUrlTest, RedactingAPasswordOfStarsTerminates) {
  // Fuzzer finding: replacing "***" with "***" used to loop forever.
  EXPECT_EQ(RedactUrl("postgresql://us:***@facs?tst"), "postgresql://us:***@facs?tst");
  EXPECT_EQ(RedactUrl("redis://:*****@h/*****"), "redis://:***@h/***");
}

TEST(SecretTest, ComesFromTheVariableOrItsFile) {
  testing::TempDir dir;
  unsetenv("FACEFILL_TEST_SECRET");
  unsetenv("FACEFILL_TEST_SECRET_FILE");
  EXPECT_EQ(*ReadSecret("FACEFILL_TEST_SECRET"), "");
  std::ofstream(dir / "secret") << "from-file\n";
  setenv("FACEFILL_TEST_SECRET_FILE", (dir / "secret").c_str(), 1);
  EXPECT_EQ(*ReadSecret("FACEFILL_TEST_SECRET"), "from-file");
  setenv("FACEFILL_TEST_SECRET", "from-env", 1);
  EXPECT_EQ(*ReadSecret("FACEFILL_TEST_SECRET"), "from-env");
  unsetenv("FACEFILL_TEST_SECRET");
  setenv("FACEFILL_TEST_SECRET_FILE", (dir / "missing").c_str(), 1);
  EXPECT_FALSE(ReadSecret("FACEFILL_TEST_SECRET").ok());
  unsetenv("FACEFILL_TEST_SECRET_FILE");
}

TEST(RedisReplyTest, ParsesEveryReplyType) {
  auto replies = redis::ParseResp("+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n-ERR wrong\r\n");
  ASSERT_TRUE(replies.ok());
  ASSERT_EQ(replies->size(), 6u);
  EXPECT_EQ((*replies)[0].type, redis::Reply::Type::kStatus);
  EXPECT_EQ((*replies)[1].integer, 42);
  EXPECT_EQ((*replies)[2].str, "hello");
  EXPECT_TRUE((*replies)[3].nil());
  ASSERT_EQ((*replies)[4].elements.size(), 2u);
  EXPECT_EQ((*replies)[4].elements[1].elements[0].integer, 1);
  EXPECT_EQ((*replies)[5].type, redis::Reply::Type::kError);
  EXPECT_FALSE(redis::ParseResp("?garbage\r\n").ok());
  auto partial = redis::ParseResp("$10\r\nabc");  // incomplete: nothing yet, no error
  ASSERT_TRUE(partial.ok());
  EXPECT_TRUE(partial->empty());
}

}  // namespace
}  // namespace facefill
