# Who handles an incident: the routing table and the volunteer ranking, pure logic.
gridloop_library(gridloop_dispatch_policy
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/policy.cc ${CMAKE_CURRENT_SOURCE_DIR}/routing.cc
  DEPS gridloop_proto gridloop_status absl::strings absl::time absl::statusor)

gridloop_test(dispatch_policy_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/policy_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/routing_test.cc
  DEPS gridloop_dispatch_policy
  LABELS unit)

# Volunteers by location.
add_subdirectory(${CMAKE_CURRENT_SOURCE_DIR}/geo)
