#ifndef GRIDLOOP_TOOLS_GRIDCTL_ASSESSMENT_CMD_H_
#define GRIDLOOP_TOOLS_GRIDCTL_ASSESSMENT_CMD_H_

#include <string>

#include "common/config/config.h"

namespace gridloop::gridctl {

// `gridctl assessment <sub>`: rebuild, scorecard, rankings, trend against a running
// assessment service (--assessment-addr / GRIDLOOP_ASSESSMENT_ADDR, 127.0.0.1:50054).
// Returns the process exit code.
int RunAssessment(const std::string& sub, const config::Settings& settings);

}  // namespace gridloop::gridctl

#endif  // GRIDLOOP_TOOLS_GRIDCTL_ASSESSMENT_CMD_H_
