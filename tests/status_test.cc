// Status and Result: the named factories, the assign-or-return macro, and a Result that refuses an OK status.
#include "facefill/status.h"

#include <gtest/gtest.h>

#include <string>

namespace facefill {
namespace {

TEST(StatusTest, NamedFactoriesCarryTheirCodeAndMessage) {
  const std::pair<Status, StatusCode> cases[] = {
      {Status::InvalidArgument("m"), StatusCode::kInvalidArgument},
      {Status::NotFound("m"), StatusCode::kNotFound},
      {Status::PermissionDenied("m"), StatusCode::kPermissionDenied},
      {Status::IoError("m"), StatusCode::kIoError},
      {Status::EmptyFile("m"), StatusCode::kEmptyFile},
      {Status::UnsupportedFormat("m"), StatusCode::kUnsupportedFormat},
      {Status::CorruptImage("m"), StatusCode::kCorruptImage},
      {Status::ImageTooLarge("m"), StatusCode::kImageTooLarge},
      {Status::ModelError("m"), StatusCode::kModelError},
      {Status::InferenceError("m"), StatusCode::kInferenceError},
      {Status::DatabaseError("m"), StatusCode::kDatabaseError},
      {Status::VectorStoreError("m"), StatusCode::kVectorStoreError},
      {Status::QueueError("m"), StatusCode::kQueueError},
      {Status::Unavailable("m"), StatusCode::kUnavailable},
      {Status::DeviceError("m"), StatusCode::kDeviceError},
      {Status::Cancelled("m"), StatusCode::kCancelled},
      {Status::Internal("m"), StatusCode::kInternal},
  };
  for (const auto& [status, code] : cases) {
    EXPECT_EQ(status.code(), code) << StatusCodeName(code);
    EXPECT_EQ(status.message(), "m");
    EXPECT_FALSE(status.ok());
  }
  EXPECT_EQ(Status::NotFound("no job 7").ToString(), "not_found: no job 7");
}

Result<int> Half(int n) {
  if (n % 2 != 0) return Status::InvalidArgument(std::to_string(n) + " is odd");
  return n / 2;
}

Result<int> Quarter(int n) {
  FACEFILL_ASSIGN_OR_RETURN(const int half, Half(n));
  FACEFILL_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status QuarterInto(int n, int* out) {
  FACEFILL_ASSIGN_OR_RETURN(*out, Quarter(n));
  return Status::Ok();
}

TEST(StatusTest, AssignOrReturnAssignsTheValueOrReturnsTheError) {
  auto quarter = Quarter(12);
  ASSERT_TRUE(quarter.ok());
  EXPECT_EQ(*quarter, 3);
  auto odd = Quarter(6);  // 6 / 2 = 3 is odd: the second step fails
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "3 is odd");
  int out = -1;
  EXPECT_TRUE(QuarterInto(8, &out).ok());
  EXPECT_EQ(out, 2);
  EXPECT_EQ(QuarterInto(7, &out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, 2) << "left alone on error";
}

TEST(StatusTest, AResultRefusesAnOkStatus) {
#ifdef NDEBUG
  Result<int> result = Status::Ok();
  EXPECT_FALSE(result.ok()) << "an OK status holds no value";
  EXPECT_EQ(result.status().code(), StatusCode::kInternal);
#else
  EXPECT_DEATH({ Result<int> result = Status::Ok(); }, "OK status");
#endif
  Result<int> error = Status::NotFound("x");
  EXPECT_EQ(error.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace facefill
