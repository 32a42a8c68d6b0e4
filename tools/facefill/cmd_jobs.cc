// `facefill jobs [ID] [--cancel]`: queued and running jobs, their live progress and workers.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "queue_flags.h"

namespace facefill::cli {
namespace {

struct JobsFlags {
  std::string queue;
  std::string id;
  bool cancel = false;
  bool json = false;
  int limit = 20;
};

std::string When(double unix_seconds) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
  return text;
}

nlohmann::json JobJson(const JobInfo& j) {
  return {{"id", j.id},
          {"status", JobStatusName(j.status)},
          {"params", nlohmann::json::parse(j.params, nullptr, false)},
          {"total", j.total},
          {"processed", j.processed},
          {"faces", j.faces},
          {"no_faces", j.no_faces},
          {"errors", j.errors},
          {"takeovers", j.takeovers},
          {"created_at", j.created_at},
          {"started_at", j.started_at},
          {"finished_at", j.finished_at},
          {"error", j.error},
          {"live_workers", j.live_workers}};
}

void PrintJob(const JobInfo& j) {
  const double end = j.finished_at > 0 ? j.finished_at : static_cast<double>(std::time(nullptr));
  const double rate = j.started_at > 0 && end > j.started_at ? j.processed / (end - j.started_at) : 0;
  // A queued job has no total until a worker starts it and counts the catalog's pending assets.
  const std::string assets = j.total == 0 && j.processed == 0 && j.status == JobStatus::kQueued
                                 ? std::string("(total not known yet)")
                                 : fmt::format("{}/{} assets", j.processed, j.total);
  std::cout << fmt::format("{}  {:<9} {}  {} faces  {} errors  {:.1f} images/s  workers {}  created {} UTC{}\n", j.id,
                           JobStatusName(j.status), assets, j.faces, j.errors, rate, j.live_workers.size(),
                           When(j.created_at), j.error.empty() ? "" : "  error: " + j.error);
}

int Run(const JobsFlags& flags) {
  auto queue = OpenQueueOrLog(flags.queue);
  if (!queue) return kExitUsage;
  if (flags.cancel) {
    if (flags.id.empty()) {
      spdlog::error("--cancel needs a job id");
      return kExitUsage;
    }
    Status status = queue->Cancel(flags.id);
    if (!status.ok()) {
      spdlog::error("{}", status.ToString());
      return status.code() == StatusCode::kNotFound ? kExitUsage : kExitFailure;
    }
  }
  std::vector<JobInfo> jobs;
  if (!flags.id.empty()) {
    auto job = queue->Get(flags.id);
    if (!job.ok()) {
      spdlog::error("{}", job.status().ToString());
      return job.status().code() == StatusCode::kNotFound ? kExitUsage : kExitFailure;
    }
    jobs.push_back(std::move(job).value());
  } else {
    auto list = queue->List(flags.limit);
    if (!list.ok()) {
      spdlog::error("{}", list.status().ToString());
      return kExitFailure;
    }
    jobs = std::move(list).value();
  }
  if (flags.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& j : jobs) out.push_back(JobJson(j));
    std::cout << (flags.id.empty() ? out : out.front()).dump() << "\n";
  } else {
    for (const auto& j : jobs) PrintJob(j);
    if (jobs.empty()) std::cout << "no jobs\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterJobs(CLI::App* app) {
  auto flags = std::make_shared<JobsFlags>();
  CLI::App* cmd = app->add_subcommand("jobs", "Queued and running backfill jobs, their progress and workers");
  AddQueueFlag(cmd, &flags->queue);
  cmd->add_option("id", flags->id, "One job");
  cmd->add_flag("--cancel", flags->cancel, "Cancel the job: its workers commit what is in flight and stop");
  cmd->add_option("--limit", flags->limit, "Most recent jobs to list")->capture_default_str();
  cmd->add_flag("--json", flags->json, "JSON output");
  cmd->final_callback([flags] { throw CommandResult(Run(*flags)); });
}

}  // namespace facefill::cli
