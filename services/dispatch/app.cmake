gridloop_library(gridloop_dispatch_app
  SOURCES dispatch_grpc.cc app.cc
  DEPS gridloop_dispatch_core gridloop_dispatch_staff_cache gridloop_dispatch_store
       gridloop_dispatch_volunteers gridloop_server gridloop_config gridloop_kafka gridloop_outbox gridloop_log)

add_executable(gridloop-dispatch main.cc)
target_link_libraries(gridloop-dispatch PRIVATE gridloop_dispatch_app)
gridloop_warnings(gridloop-dispatch)
