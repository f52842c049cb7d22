package metasim

import (
	"encoding/binary"
	"io"
	"net"
	"syscall"
	"time"
)

// stampListener turns on the kernel's receive timestamps (SO_TIMESTAMPNS) on l's socket, which
// accepted sockets inherit, so even bytes that came before Accept carry theirs.
func stampListener(l net.Listener) net.Listener {
	if tl, ok := l.(*net.TCPListener); ok {
		if rc, err := tl.SyscallConn(); err == nil {
			_ = rc.Control(enableStamps)
		}
	}
	return stampingListener{l}
}

type stampingListener struct{ net.Listener }

func (l stampingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil || rc.Control(enableStamps) != nil {
		return c, nil
	}
	return &stampedConn{Conn: c, read: func(p []byte) (int, time.Time, error) { return recvStamped(rc, p) }}, nil
}

func enableStamps(fd uintptr) {
	_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
}

// recvStamped reads as Read does, through recvmsg, and returns the receive time of the last
// segment read (zero when the kernel gave none).
func recvStamped(rc syscall.RawConn, p []byte) (int, time.Time, error) {
	var (
		n, oobn int
		oob     [64]byte
		rerr    error
	)
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), p, oob[:], 0)
			if rerr != syscall.EINTR {
				break
			}
		}
		return rerr != syscall.EAGAIN
	})
	switch {
	case err != nil:
		return 0, time.Time{}, err
	case rerr != nil:
		return 0, time.Time{}, &net.OpError{Op: "read", Net: "tcp", Err: rerr}
	case n == 0 && len(p) > 0:
		return 0, time.Time{}, io.EOF
	}
	return n, stampOf(oob[:oobn]), nil
}

// stampOf finds SCM_TIMESTAMPNS (a struct timespec of two native 64-bit words) in oob.
func stampOf(oob []byte) time.Time {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec)
		}
	}
	return time.Time{}
}
