# The volunteer-facing domain: validation, who may do what, and the calls into the store
# port. No Redis or gRPC here, so it is unit-tested with a mock store and a fake clock.
gridloop_library(gridloop_dispatch_volunteers
  SOURCES volunteers.cc
  DEPS gridloop_dispatch_ports gridloop_dispatch_policy gridloop_identity gridloop_pii
       gridloop_clock gridloop_status gridloop_proto absl::status absl::statusor absl::strings
       absl::time)

gridloop_test(dispatch_volunteers_test
  SOURCES volunteers_test.cc
  DEPS gridloop_dispatch_volunteers
  LABELS unit)
