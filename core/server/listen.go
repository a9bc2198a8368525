package server

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Listen opens the TCP listener runserver serves on. When the address is
// already in use, the error is one line that names the process holding the
// port when the system tells (Linux: /proc), and what to do about it.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("runserver: listen on %s: %w", addr, err)
	}
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	who := "another program"
	if pid, command, ok := PortHolder(port); ok {
		who = fmt.Sprintf("process %d (%s)", pid, command)
	}
	return nil, fmt.Errorf("runserver: %s is already in use by %s: stop it, or run on another port: go run . runserver %d", addr, who, port+1)
}
