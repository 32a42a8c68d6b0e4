// Redis client: connect (AUTH, SELECT), commands by argv (binary-safe, no formatting), reconnect with backoff.
#include "redis_client.h"

#include <spdlog/spdlog.h>
#include <sys/time.h>

#include "facefill/url.h"

namespace facefill::redis {
namespace {

constexpr int kMaxDepth = 16;
timeval Millis(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

}  // namespace

Reply ConvertReply(const redisReply* r, int depth) {
  Reply out;
  if (r == nullptr) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      if (depth >= kMaxDepth) {
        out.type = Reply::Type::kError;
        out.str = "reply nested too deeply";
        break;
      }
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(ConvertReply(r->element[i], depth + 1));
      break;
    default:
      break;
  }
  return out;
}

Result<std::vector<Reply>> ParseResp(const std::string& bytes) {
  std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(redisReaderCreate(), redisReaderFree);
  if (reader == nullptr) return Status::Internal("out of memory");
  if (redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK) {
    return Status::QueueError("cannot feed the reply reader");
  }
  std::vector<Reply> replies;
  while (true) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
      return Status::QueueError(std::string("malformed reply: ") + reader->errstr);
    }
    if (raw == nullptr) break;  // incomplete or done
    replies.push_back(ConvertReply(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return replies;
}

Client::Client(std::string host, int port, std::string password, int db, ClientOptions options, std::string described)
    : host_(std::move(host)),
      port_(port),
      password_(std::move(password)),
      db_(db),
      options_(options),
      described_(std::move(described)) {}

Client::~Client() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

Result<std::unique_ptr<Client>> Client::Open(const std::string& url, const ClientOptions& options) {
  auto parsed = ParseServiceUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (parsed->scheme != "redis") {
    return Status(StatusCode::kInvalidArgument, "queue URL must start with redis://");
  }
  std::string password = parsed->password;
  if (password.empty()) {
    auto secret = ReadSecret("FACEFILL_REDIS_PASSWORD");
    if (!secret.ok()) return secret.status();
    password = *secret;
  }
  int db = 0;
  if (!parsed->path.empty()) {
    if (parsed->path.find_first_not_of("0123456789") != std::string::npos || parsed->path.size() > 4) {
      return Status(StatusCode::kInvalidArgument, "redis URL path must be a database number");
    }
    db = std::stoi(parsed->path);
  }
  const int port = parsed->port != 0 ? parsed->port : 6379;
  std::unique_ptr<Client> client(
      new Client(parsed->host, port, password, db, options,
                 "redis://" + parsed->host + ":" + std::to_string(port) + "/" + std::to_string(db)));
  std::lock_guard lock(client->mutex_);
  Status status = RetryWithBackoff(
      options.retry, [&] { return client->Connect(); }, IsRetryableError,
      [&](const Status& s, auto delay) { spdlog::warn("{}; retrying in {} ms", s.message(), delay.count()); });
  if (!status.ok()) return status;
  return client;
}

Status Client::Connect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = redisConnectWithTimeout(host_.c_str(), port_, Millis(options_.timeout_ms));
  if (ctx_ == nullptr || ctx_->err != 0) {
    std::string why = ctx_ != nullptr ? ctx_->errstr : "out of memory";
    if (ctx_ != nullptr) redisFree(ctx_);
    ctx_ = nullptr;
    return RetryableError(described_ + ": cannot connect: " + why);
  }
  redisSetTimeout(ctx_, Millis(options_.timeout_ms));
  auto setup = [&](const std::vector<std::string>& args) -> Status {
    FACEFILL_ASSIGN_OR_RETURN(Reply reply, Run(args, options_.timeout_ms));
    // Never echo arguments: AUTH carries the password.
    if (reply.type == Reply::Type::kError)
      return Status::QueueError(described_ + ": " + args.front() + " failed: " + reply.str);
    return Status::Ok();
  };
  if (!password_.empty()) FACEFILL_RETURN_IF_ERROR(setup({"AUTH", password_}));
  if (db_ != 0) FACEFILL_RETURN_IF_ERROR(setup({"SELECT", std::to_string(db_)}));
  return Status::Ok();
}

Result<Reply> Client::Run(const std::vector<std::string>& args, int timeout_ms) {
  if (ctx_ == nullptr) return RetryableError(described_ + ": not connected");
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisSetTimeout(ctx_, Millis(timeout_ms));
  auto* raw = static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (raw == nullptr) {
    std::string why = ctx_->errstr;
    redisFree(ctx_);
    ctx_ = nullptr;  // a failed context cannot be reused
    return RetryableError(described_ + ": " + why);
  }
  Reply reply = ConvertReply(raw);
  freeReplyObject(raw);
  return reply;
}

Result<Reply> Client::Command(const std::vector<std::string>& args) { return BlockingCommand(args, 0); }

Result<Reply> Client::BlockingCommand(const std::vector<std::string>& args, int extra_ms) {
  FACEFILL_ASSIGN_OR_RETURN(Reply reply, RunWithRetries(args, extra_ms));
  if (reply.type == Reply::Type::kError) {
    // Never echo arguments: AUTH carries the password.
    return Status::QueueError(described_ + ": " + args.front() + " failed: " + reply.str);
  }
  return reply;
}

Result<Reply> Client::Eval(const std::string& script, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args) {
  std::string sha;
  {
    std::lock_guard lock(scripts_mutex_);
    auto it = script_sha_.find(script);
    if (it != script_sha_.end()) sha = it->second;
  }
  std::vector<std::string> argv = {"EVALSHA", sha, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  Result<Reply> reply = Status::Internal("not run");
  if (!sha.empty()) {
    reply = RunWithRetries(argv, 0);
    if (!reply.ok()) return reply.status();
  }
  if (sha.empty() || (reply->type == Reply::Type::kError && reply->str.starts_with("NOSCRIPT"))) {
    FACEFILL_ASSIGN_OR_RETURN(Reply loaded, BlockingCommand({"SCRIPT", "LOAD", script}, 0));
    {
      std::lock_guard lock(scripts_mutex_);
      script_sha_[script] = loaded.str;
    }
    argv[1] = loaded.str;
    reply = RunWithRetries(argv, 0);
    if (!reply.ok()) return reply.status();
  }
  if (reply->type == Reply::Type::kError) return Status::QueueError(described_ + ": script failed: " + reply->str);
  return reply;
}

Result<Reply> Client::RunWithRetries(const std::vector<std::string>& args, int extra_ms) {
  std::lock_guard lock(mutex_);
  Result<Reply> result = Status::Internal("not run");
  Status status = RetryWithBackoff(
      options_.retry,
      [&]() -> Status {
        if (ctx_ == nullptr) FACEFILL_RETURN_IF_ERROR(Connect());
        if (options_.before_command) options_.before_command(args);
        result = Run(args, options_.timeout_ms + extra_ms);
        if (result.ok() && options_.lose_reply && options_.lose_reply(args)) {
          redisFree(ctx_);
          ctx_ = nullptr;
          result = RetryableError(described_ + ": reply lost (injected)");
        }
        return result.ok() ? Status::Ok() : result.status();
      },
      IsRetryableError,
      [&](const Status& s, auto delay) { spdlog::warn("{}; retrying in {} ms", s.message(), delay.count()); });
  if (!status.ok()) return status;
  return result;
}

}  // namespace facefill::redis
