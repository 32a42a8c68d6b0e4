// The Redis JobQueue over a client the caller opened (tests give it a client that injects faults).
#pragma once

#include <memory>

#include "facefill/job_queue.h"
#include "redis_client.h"

namespace facefill {

std::unique_ptr<JobQueue> NewRedisJobQueue(std::unique_ptr<redis::Client> client, const QueueOptions& options);

}  // namespace facefill
