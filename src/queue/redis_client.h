// A Redis connection (hiredis) that reconnects with backoff, and replies as plain values.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/retry.h"
#include "facefill/status.h"

namespace facefill::redis {

struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<Reply> elements;

  bool nil() const { return type == Type::kNil; }
};

// Converts a hiredis reply tree into a Reply (depth-limited against hostile nesting).
Reply ConvertReply(const redisReply* reply, int depth = 0);

// Parses raw RESP bytes as they come off the wire (for tests and fuzzing): every complete reply, or an error.
Result<std::vector<Reply>> ParseResp(const std::string& bytes);

struct ClientOptions {
  RetryOptions retry;
  int timeout_ms = 5000;  // per command; blocking commands add their own wait
};

class Client {
 public:
  // redis://[:password@]host[:port][/db]; the password may also come from FACEFILL_REDIS_PASSWORD(_FILE).
  static Result<std::unique_ptr<Client>> Open(const std::string& url, const ClientOptions& options = {});
  ~Client();

  // Runs one command; reconnects and retries when the connection fails. A Redis error reply is kQueueError.
  Result<Reply> Command(const std::vector<std::string>& args);
  // As Command, with the socket timeout raised by `extra_ms` (for BLMOVE and other blocking commands).
  Result<Reply> BlockingCommand(const std::vector<std::string>& args, int extra_ms);

 private:
  Client(std::string host, int port, std::string password, int db, ClientOptions options, std::string described);
  Status Connect();
  Result<Reply> Run(const std::vector<std::string>& args, int timeout_ms);

  std::mutex mutex_;
  std::string host_;
  int port_;
  std::string password_;
  int db_;
  ClientOptions options_;
  std::string described_;
  redisContext* ctx_ = nullptr;
};

}  // namespace facefill::redis
