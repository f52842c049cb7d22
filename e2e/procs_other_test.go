//go:build !linux

package e2e

import "os/exec"

// dieWithTest: only Linux can tie a child's life to its parent's; elsewhere the test's cleanup
// kills the processes.
func dieWithTest(*exec.Cmd) {}
