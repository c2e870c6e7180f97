# Resident surveys: the domain with its store port, and the port's Redis adapter with its
# Lua scripts kept beside it. Included from this directory's CMakeLists.txt.
gridloop_library(gridloop_assessment_surveys
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/surveys.cc
  DEPS gridloop_assessment_base gridloop_identity gridloop_clock gridloop_requests
       gridloop_status gridloop_proto absl::status absl::statusor absl::strings absl::time)

gridloop_library(gridloop_assessment_survey_store
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/redis_survey_store.cc
  DEPS gridloop_assessment_surveys gridloop_redis gridloop_clock gridloop_status
       OpenSSL::Crypto absl::status absl::statusor absl::strings absl::time)
gridloop_embed_text(gridloop_assessment_survey_store lua/survey_create.lua
                    kAssessmentSurveyCreateLua)
gridloop_embed_text(gridloop_assessment_survey_store lua/survey_respond.lua
                    kAssessmentSurveyRespondLua)

# Every rule of the domain, over an in-memory store and a fake clock.
gridloop_test(assessment_surveys_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/surveys_test.cc
  DEPS gridloop_assessment_surveys absl::synchronization
  LABELS unit)

# The adapter against a real redis-server.
gridloop_test(assessment_survey_store_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/redis_survey_store_test.cc
  DEPS gridloop_assessment_survey_store gridloop_testing_redis absl::synchronization
  LABELS integration
  TIMEOUT 180)
