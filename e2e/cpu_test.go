package e2e

import (
	"os"
	"strconv"
	"strings"
)

// clockTicks is the unit of /proc's CPU times (USER_HZ, 100 on every Linux we run on).
const clockTicks = 100

// cpuUse is CPU time in seconds by where it was spent: Dripcast's process, Postgres (every
// backend), Redis, this test process (metasim and the harness), and the whole machine busy.
type cpuUse struct {
	dripcast, postgres, redis, harness, machine float64
}

// cpuNow reads the CPU time used so far; dripcast is the pid of `dripcast serve` (0 when none).
// A backend that exits between two readings takes its time with it, which is why the benchmarks
// read it while their connections are open.
func cpuNow(dripcast int) cpuUse {
	var u cpuUse
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, secs := procCPU(pid)
		switch {
		case pid == dripcast:
			u.dripcast += secs
		case pid == os.Getpid():
			u.harness += secs
		case comm == "postgres":
			u.postgres += secs
		case comm == "redis-server":
			u.redis += secs
		}
	}
	u.machine = machineBusy()
	return u
}

// procCPU is a process's name and its user plus system time in seconds.
func procCPU(pid int) (string, float64) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0
	}
	s := string(raw)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0
	}
	f := strings.Fields(s[end+1:]) // from field 3 (state) on: utime is field 14, stime 15
	if len(f) < 13 {
		return "", 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return s[open+1 : end], (ut + st) / clockTicks
}

// machineBusy is the CPU time every core has spent not idle, from /proc/stat.
func machineBusy() float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	var busy float64
	for i, v := range strings.Fields(line)[1:] {
		if i == 3 || i == 4 { // idle and iowait
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / clockTicks
}

// since is the CPU used from then to u.
func (u cpuUse) since(then cpuUse) cpuUse {
	return cpuUse{u.dripcast - then.dripcast, u.postgres - then.postgres, u.redis - then.redis,
		u.harness - then.harness, u.machine - then.machine}
}

// perItem is each part's CPU time in microseconds per item of n.
func (u cpuUse) perItem(n int) cpuUse {
	k := 1e6 / float64(n)
	return cpuUse{u.dripcast * k, u.postgres * k, u.redis * k, u.harness * k, u.machine * k}
}
