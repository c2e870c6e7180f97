# Warnings apply to the project's own targets only; generated code and third-party
# headers (included as SYSTEM) are not held to them.
set(GRIDLOOP_WARNINGS -Wall -Wextra -Wno-unused-parameter)
if(GRIDLOOP_WERROR)
  list(APPEND GRIDLOOP_WARNINGS -Werror)
endif()

function(gridloop_warnings target)
  target_compile_options(${target} PRIVATE ${GRIDLOOP_WARNINGS})
endfunction()

# gridloop_library(NAME SOURCES ... DEPS ...)
function(gridloop_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  gridloop_warnings(${name})
endfunction()

# gridloop_test(NAME SOURCES ... DEPS ... LABELS unit|integration|e2e [TIMEOUT s])
# One CTest entry per binary: integration binaries share one redis-server and broker
# across their cases, which per-case discovery would multiply.
function(gridloop_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  gridloop_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

# gridloop_embed_text(TARGET FILE NAME): makes FILE (e.g. a Lua script kept beside the
# adapter that runs it) available to TARGET as `#include "<FILE>.h"` defining NAME.
function(gridloop_embed_text target file name)
  set(in ${CMAKE_CURRENT_SOURCE_DIR}/${file})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded/${file}.h)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${in} -DOUT=${out} -DNAME=${name}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    DEPENDS ${in} ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake)
  target_sources(${target} PRIVATE ${out})
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/embedded)
endfunction()
