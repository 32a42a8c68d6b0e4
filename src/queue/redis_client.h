// A Redis connection (hiredis) that reconnects with backoff, and replies as plain values.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <functional>
#include <map>
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
  // Fault injection for tests. Called before each try of a command is sent (another client may act in between).
  std::function<void(const std::vector<std::string>& args)> before_command;
  // Fault injection for tests. When it returns true, Redis has run the command but its reply is dropped and the
  // connection closed, as when the network fails after the server executed it; the command is then retried.
  std::function<bool(const std::vector<std::string>& args)> lose_reply;
};

class Client {
 public:
  // redis://[:password@]host[:port][/db]; the password may also come from FACEFILL_REDIS_PASSWORD(_FILE).
  static Result<std::unique_ptr<Client>> Open(const std::string& url, const ClientOptions& options = {});
  ~Client();

  // Runs one command; reconnects and retries when the connection fails. A Redis error reply is kQueueError.
  // A retry follows a failure that may have come after Redis ran the command (its reply lost), so pass only
  // commands that are safe to run twice; make a state change that is not one script that is (see Eval).
  Result<Reply> Command(const std::vector<std::string>& args);
  // As Command, with the socket timeout raised by `extra_ms` (for BLMOVE and other blocking commands).
  Result<Reply> BlockingCommand(const std::vector<std::string>& args, int extra_ms);
  // Runs a Lua script atomically on the server (EVALSHA, falling back to EVAL when Redis does not know the script
  // yet, e.g. after a restart), retried like Command: the script must be safe to run twice with the same arguments.
  Result<Reply> Eval(const std::string& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);

 private:
  Client(std::string host, int port, std::string password, int db, ClientOptions options, std::string described);
  Status Connect();
  Result<Reply> Run(const std::vector<std::string>& args, int timeout_ms);
  // With retries; an error reply is returned as a Reply of type kError (so Eval can tell NOSCRIPT apart).
  Result<Reply> RunWithRetries(const std::vector<std::string>& args, int extra_ms);

  std::mutex mutex_;
  std::string host_;
  int port_;
  std::string password_;
  int db_;
  ClientOptions options_;
  std::string described_;
  redisContext* ctx_ = nullptr;
  std::mutex scripts_mutex_;
  std::map<std::string, std::string> script_sha_;  // script source -> its SHA1 digest, once Redis has loaded it
};

}  // namespace facefill::redis
