package server

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// expireEvery is how often the tracking listener enforces the connections'
// read and write deadlines (ReadTimeout, WriteTimeout, IdleTimeout): each
// fires at most this late.
const expireEvery = 250 * time.Millisecond

// trackingListener remembers the connections it accepted and their state
// (the server's ConnState hook), so that a drain that runs out of time can
// wait for the responses being written and then close what is left.
//
// It also keeps the deadlines of its TCP connections itself (serverConn):
// fasthttp sets a read deadline twice and a write deadline once per request,
// and each one, made a runtime timer by the net package, read the clock
// twice more and took the poller's locks (~1 µs of a /health's CPU). The
// listener's own goroutine enforces the deadlines every expireEvery instead.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]*atomic.Int32 // its fasthttp.ConnState
	closed bool

	stop     chan struct{}
	stopOnce sync.Once
}

func newTrackingListener(ln net.Listener) *trackingListener {
	l := &trackingListener{Listener: ln, conns: map[net.Conn]*atomic.Int32{}, stop: make(chan struct{})}
	go l.expire()
	return l
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	state := new(atomic.Int32)
	if tcp, ok := c.(*net.TCPConn); ok {
		// Only plain TCP: a wrapped *tls.Conn would hide its TLS from
		// fasthttp (RequestCtx.IsTLS).
		sc := &serverConn{Conn: c, tcp: tcp}
		c, state = sc, &sc.state
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	state.Store(int32(fasthttp.StateNew))
	l.conns[c] = state
	return c, nil
}

// setState is the server's ConnState hook.
func (l *trackingListener) setState(c net.Conn, state fasthttp.ConnState) {
	switch state {
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		if sc, ok := c.(*serverConn); ok && state == fasthttp.StateHijacked {
			sc.direct() // its new owner's deadlines are no longer enforced by l
		}
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	default:
		if sc, ok := c.(*serverConn); ok { // without the lock, twice per request
			sc.state.Store(int32(state))
			return
		}
		l.mu.Lock()
		if st, ok := l.conns[c]; ok {
			st.Store(int32(state))
		}
		l.mu.Unlock()
	}
}

// active counts the connections serving a request.
func (l *trackingListener) active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, st := range l.conns {
		if fasthttp.ConnState(st.Load()) == fasthttp.StateActive {
			n++
		}
	}
	return n
}

// closeAll cuts every connection still open (the client reads the end of
// the stream) and refuses those accepted later. A TCP connection is shut
// down rather than closed: the server still owns it, and fasthttp panics
// when it sets a deadline on a closed one after its handler returns.
func (l *trackingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for c := range l.conns {
		tcp, ok := c.(*net.TCPConn)
		if sc, wrapped := c.(*serverConn); wrapped {
			tcp, ok = sc.tcp, true
		}
		if ok {
			_ = tcp.CloseRead()
			_ = tcp.CloseWrite()
			continue
		}
		_ = c.Close()
	}
	clear(l.conns)
}

// expire enforces the deadlines of the listener's connections until stopExpiring.
func (l *trackingListener) expire() {
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	var due []*serverConn
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			n := now.UnixNano()
			due = due[:0]
			l.mu.Lock()
			for c := range l.conns {
				if sc, ok := c.(*serverConn); ok && sc.due(n) {
					due = append(due, sc)
				}
			}
			l.mu.Unlock()
			for _, sc := range due {
				sc.fire(n)
			}
		}
	}
}

// stopExpiring ends expire's goroutine.
func (l *trackingListener) stopExpiring() { l.stopOnce.Do(func() { close(l.stop) }) }

// aLongTimeAgo is a deadline in the past: it makes a pending read or write
// return a timeout error at once.
var aLongTimeAgo = time.Unix(1, 0)

// serverConn is an accepted TCP connection whose read and write deadlines are
// recorded (an atomic store) rather than set: its trackingListener's expire
// sets a deadline in the past on the socket once a recorded one has passed,
// which fails a blocked or later read (write) with the same timeout error a
// socket deadline gives; recording a new deadline after that clears it.
type serverConn struct {
	net.Conn
	tcp   *net.TCPConn
	state atomic.Int32 // fasthttp.ConnState

	// The recorded deadlines (Unix nanoseconds, 0: none), and whether the
	// socket's own was set in the past because one of them passed.
	read, write        atomic.Int64
	readFired, wrFired atomic.Bool
	passthrough        atomic.Bool // after a hijack: deadlines go to the socket
	mu                 sync.Mutex  // orders fire and the clearing of a fired deadline

	// linger asks Close to drain what the client is still sending before
	// closing (LingerOnClose); lingering is set once Close has handed the
	// socket to lingerClose, which owns its deadlines from then on.
	linger, lingering atomic.Bool
}

// Lingering close: how long, and how much, a connection closed with a
// request body unread goes on reading (and discarding) what the client is
// still sending. Closed with unread data, a socket answers the client with a
// TCP reset, which fails the client's send and can lose the response it has
// not read yet; nginx lingers the same way (lingering_time, lingering_timeout).
const (
	lingerTotal = 10 * time.Second
	lingerIdle  = time.Second // the client stopped sending
	lingerMax   = 64 << 20
)

// LingerOnClose asks that, when the server closes the connection, it first
// shut down its sending side (the client sees the end of the response) and
// read and discard what the client is still sending, for at most
// lingerTotal, lingerIdle without data and lingerMax bytes, before closing
// it. core/api's BodyLimit asks for it when it answers 413 to a body it has
// not read.
func (c *serverConn) LingerOnClose() { c.linger.Store(true) }

// Close closes the connection, or hands it to lingerClose (LingerOnClose).
func (c *serverConn) Close() error {
	if !c.linger.Load() || c.passthrough.Load() {
		return c.Conn.Close()
	}
	c.mu.Lock()
	first := !c.lingering.Swap(true)
	c.mu.Unlock()
	if !first {
		return nil
	}
	if err := c.tcp.CloseWrite(); err != nil {
		return c.Conn.Close()
	}
	go lingerClose(c.tcp)
	return nil
}

// lingerClose reads and discards what the client sends until it stops (end
// of stream, an error, lingerIdle without data), lingerTotal has passed or
// lingerMax bytes were read, then closes tcp.
func lingerClose(tcp *net.TCPConn) {
	defer tcp.Close()
	end := time.Now().Add(lingerTotal)
	buf := make([]byte, 32<<10)
	for read := 0; read < lingerMax; {
		now := time.Now()
		if !now.Before(end) {
			return
		}
		dl := now.Add(lingerIdle)
		if dl.After(end) {
			dl = end
		}
		_ = tcp.SetReadDeadline(dl)
		n, err := tcp.Read(buf)
		read += n
		if err != nil {
			return
		}
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1)
}

// SetReadDeadline records t as the read deadline.
func (c *serverConn) SetReadDeadline(t time.Time) error {
	if c.lingering.Load() {
		return nil
	}
	if c.passthrough.Load() {
		return c.Conn.SetReadDeadline(t)
	}
	c.read.Store(unixNano(t))
	if c.readFired.Load() {
		c.mu.Lock()
		if c.readFired.Load() {
			c.readFired.Store(false)
			_ = c.Conn.SetReadDeadline(time.Time{})
		}
		c.mu.Unlock()
	}
	return nil
}

// SetWriteDeadline records t as the write deadline.
func (c *serverConn) SetWriteDeadline(t time.Time) error {
	if c.lingering.Load() {
		return nil
	}
	if c.passthrough.Load() {
		return c.Conn.SetWriteDeadline(t)
	}
	c.write.Store(unixNano(t))
	if c.wrFired.Load() {
		c.mu.Lock()
		if c.wrFired.Load() {
			c.wrFired.Store(false)
			_ = c.Conn.SetWriteDeadline(time.Time{})
		}
		c.mu.Unlock()
	}
	return nil
}

// SetDeadline records t as both deadlines.
func (c *serverConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// ReadFrom keeps the socket's sendfile and splice for bufio's copies.
func (c *serverConn) ReadFrom(r io.Reader) (int64, error) { return c.tcp.ReadFrom(r) }

// due reports whether a recorded deadline passed by now (Unix nanoseconds)
// and the socket's is not yet set in the past.
func (c *serverConn) due(now int64) bool {
	r, w := c.read.Load(), c.write.Load()
	return (r != 0 && r <= now && !c.readFired.Load()) || (w != 0 && w <= now && !c.wrFired.Load())
}

// fire sets the socket's deadline in the past for each recorded deadline
// that passed by now. The flag is raised before the deadline is read again:
// a deadline recorded meanwhile either is seen here (and nothing fires) or
// sees the flag and clears the socket's deadline once fire is done.
func (c *serverConn) fire(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.passthrough.Load() || c.lingering.Load() {
		return
	}
	if !c.readFired.Load() {
		c.readFired.Store(true)
		if r := c.read.Load(); r != 0 && r <= now {
			_ = c.Conn.SetReadDeadline(aLongTimeAgo)
		} else {
			c.readFired.Store(false)
		}
	}
	if !c.wrFired.Load() {
		c.wrFired.Store(true)
		if w := c.write.Load(); w != 0 && w <= now {
			_ = c.Conn.SetWriteDeadline(aLongTimeAgo)
		} else {
			c.wrFired.Store(false)
		}
	}
}

// direct hands the deadlines back to the socket (a hijacked connection).
func (c *serverConn) direct() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.passthrough.Store(true)
	toTime := func(n int64) time.Time {
		if n == 0 {
			return time.Time{}
		}
		return time.Unix(0, n)
	}
	_ = c.Conn.SetReadDeadline(toTime(c.read.Load()))
	_ = c.Conn.SetWriteDeadline(toTime(c.write.Load()))
}
