package redistest

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the kernel kill the server when the test binary dies, so
// the shared server of Addr never outlives its tests.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
