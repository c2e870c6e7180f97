# The process: gRPC face, peers, composition, main.
gridloop_library(gridloop_assessment_app
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/assessment_grpc.cc ${CMAKE_CURRENT_SOURCE_DIR}/app.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/grpc_resident_regions.cc
  DEPS gridloop_assessment_core gridloop_assessment_store gridloop_assessment_surveys
       gridloop_assessment_survey_store gridloop_server gridloop_grpc_client gridloop_config
       gridloop_kafka
       gridloop_outbox gridloop_log)

add_executable(gridloop-assessment ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
target_link_libraries(gridloop-assessment PRIVATE gridloop_assessment_app)
gridloop_warnings(gridloop-assessment)
