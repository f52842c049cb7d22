package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill the process when the test binary dies, so a test killed midway
// (a timeout, a closed pipe) leaves no Dripcast process sending in the background.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
