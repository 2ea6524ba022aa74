//go:build !linux

package redistest

import "os/exec"

// setPdeathsig is Linux-only; elsewhere the shared server of Addr may outlive
// a test binary that is killed.
func setPdeathsig(*exec.Cmd) {}
