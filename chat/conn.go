package chat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// outbound is one entry of a connection's send queue: a text frame, or the
// close frame that ends the connection.
type outbound struct {
	data  []byte
	close *closeFrame
}

type closeFrame struct {
	code   int
	reason string
}

// conn is one shopper's WebSocket. Three goroutines serve it:
//
//   - readPump, the only reader: decodes frames, answers protocol errors and
//     hands hello/message frames to the worker through a small bounded inbox;
//   - worker, which runs turns one at a time in arrival order and owns the
//     session id;
//   - writePump, the only writer: drains the bounded send queue, sends pings.
//
// Every frame goes through enqueue; a client that stops reading fills its
// queue and is disconnected instead of growing memory.
type conn struct {
	srv *Server
	ws  *websocket.Conn
	log *slog.Logger

	// The send queue: frames waiting for the writer, oldest first, capped
	// at SendQueueFrames frames and SendQueueBytes bytes. A slice that
	// grows on demand (and is dropped once written) rather than a
	// preallocated channel, so an idle connection holds no queue memory.
	sendMu      sync.Mutex
	sendBuf     []outbound
	sendReady   chan struct{} // capacity 1: wakes the writer
	queuedBytes atomic.Int64
	// messages limits the rate of message frames (Config.MessageRate).
	messages *rate.Limiter
	inbox    chan ClientFrame

	// ctx is cancelled when the connection ends, which cancels its turns.
	ctx    context.Context
	cancel context.CancelFunc

	// unfollow ends the subscription to the session's bus topic; set by
	// the worker (follow), called when the connection ends.
	followMu sync.Mutex
	unfollow func()

	draining  atomic.Bool   // no new turns once set
	drainCh   chan struct{} // closed by drain
	drainOnce sync.Once
	closeOnce sync.Once
	done      chan struct{} // closed when every goroutine has returned
}

func newConn(srv *Server, ws *websocket.Conn, log *slog.Logger) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		srv:       srv,
		ws:        ws,
		log:       log,
		sendReady: make(chan struct{}, 1),
		messages:  rate.NewLimiter(rate.Limit(srv.cfg.MessageRate), srv.cfg.MessageBurst),
		inbox:     make(chan ClientFrame, srv.cfg.PendingTurnsPerConn),
		ctx:       ctx,
		cancel:    cancel,
		drainCh:   make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// serve runs the connection until it ends and returns after every goroutine
// of it has returned.
func (c *conn) serve() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.writePump() }()
	go func() { defer wg.Done(); c.worker() }()
	c.readPump()
	c.terminate()
	wg.Wait()
	c.followMu.Lock()
	if c.unfollow != nil {
		c.unfollow()
	}
	c.followMu.Unlock()
	close(c.done)
}

// follow subscribes the connection to the frames published for its
// session (operator messages, handoff changes), replacing the subscription
// of a session it followed before (one that expired).
func (c *conn) follow(sessionID string) {
	c.followMu.Lock()
	defer c.followMu.Unlock()
	if c.unfollow != nil {
		c.unfollow()
		c.unfollow = nil
	}
	if c.ctx.Err() != nil {
		return
	}
	c.unfollow = c.srv.bus.Subscribe(SessionTopic(sessionID), func(payload []byte) {
		var f ServerFrame
		if err := json.Unmarshal(payload, &f); err != nil {
			c.log.Warn("undecodable bus frame", "err", err)
			return
		}
		c.enqueue(f)
	})
}

// terminate ends the connection at once: turns are cancelled and the socket
// closed, which stops both pumps.
func (c *conn) terminate() {
	c.closeOnce.Do(func() {
		c.cancel()
		_ = c.ws.Close()
	})
}

// drain stops taking new turns; the worker finishes the turn in progress and
// any already queued, then the writer sends a close frame with code 1001.
func (c *conn) drain() {
	c.drainOnce.Do(func() {
		c.draining.Store(true)
		close(c.drainCh)
	})
}

// enqueue queues a frame for the writer without blocking. It reports false
// when the client has fallen too far behind, in which case the connection is
// terminated.
func (c *conn) enqueue(f ServerFrame) bool {
	data, err := json.Marshal(f)
	if err != nil { // cannot happen for ServerFrame; keep the connection alive
		c.log.Error("encode frame", "err", err)
		return false
	}
	if c.queuedBytes.Add(int64(len(data))) > c.srv.cfg.SendQueueBytes {
		c.queuedBytes.Add(-int64(len(data)))
		c.slowConsumer()
		return false
	}
	if c.ctx.Err() != nil {
		c.queuedBytes.Add(-int64(len(data)))
		return false
	}
	if !c.push(outbound{data: data}, c.srv.cfg.SendQueueFrames) {
		c.queuedBytes.Add(-int64(len(data)))
		c.slowConsumer()
		return false
	}
	if f.Type == TypeError {
		c.srv.metrics.errors.WithLabelValues(f.Code).Inc()
	}
	return true
}

// push appends m to the send queue unless it already holds limit frames
// (limit < 0: no limit), and wakes the writer.
func (c *conn) push(m outbound, limit int) bool {
	c.sendMu.Lock()
	if limit >= 0 && len(c.sendBuf) >= limit {
		c.sendMu.Unlock()
		return false
	}
	c.sendBuf = append(c.sendBuf, m)
	c.sendMu.Unlock()
	select {
	case c.sendReady <- struct{}{}:
	default: // the writer is already woken
	}
	return true
}

// queued is the number of frames waiting for the writer.
func (c *conn) queued() int {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return len(c.sendBuf)
}

// takeQueued removes and returns every queued frame.
func (c *conn) takeQueued() []outbound {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	b := c.sendBuf
	c.sendBuf = nil
	return b
}

func (c *conn) slowConsumer() {
	c.srv.metrics.slowConsumers.Inc()
	c.log.Warn("client fell behind; disconnecting", "queued_bytes", c.queuedBytes.Load())
	c.terminate()
}

func (c *conn) sendError(replyTo, code, msg string) {
	c.enqueue(ServerFrame{Type: TypeError, ReplyTo: replyTo, Code: code, Message: msg})
}

func (c *conn) readPump() {
	cfg := c.srv.cfg
	c.ws.SetReadLimit(cfg.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	})
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			// A frame over the read limit makes gorilla send close 1009
			// before returning ErrReadLimit.
			if errors.Is(err, websocket.ErrReadLimit) {
				c.srv.metrics.errors.WithLabelValues(CodeTooLarge).Inc()
				c.log.Info("frame over read limit; closed with 1009", "limit", cfg.ReadLimit)
			} else if websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				c.log.Debug("read", "err", err)
			}
			return
		}
		// Any frame from the client proves it is alive.
		_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
		if kind != websocket.TextMessage {
			c.sendError("", CodeBinaryMessage, "frames must be JSON text frames")
			continue
		}
		f, err := DecodeClientFrame(data)
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				c.sendError(pe.ReplyTo, pe.Code, pe.Message)
				continue
			}
			c.sendError("", CodeInternal, "could not decode frame")
			continue
		}
		if c.draining.Load() {
			c.sendError(f.ID, CodeUnavailable, "the server is restarting; reconnect in a moment")
			continue
		}
		if f.Type == TypeMessage && !c.messages.Allow() {
			c.sendError(f.ID, CodeBusy, "you are sending messages too fast; wait a moment and send it again")
			continue
		}
		select {
		case c.inbox <- f:
		default:
			c.sendError(f.ID, CodeBusy, "too many messages waiting for an answer; wait for the previous ones")
		}
	}
}

// worker runs turns in arrival order until the connection ends or drains.
func (c *conn) worker() {
	var sess sessionState
	defer func() {
		if c.draining.Load() {
			c.queueClose(websocket.CloseGoingAway, "server shutting down")
		}
	}()
	for {
		// Work already queued is finished before a drain takes effect.
		select {
		case f := <-c.inbox:
			c.srv.handle(c, &sess, f)
			continue
		default:
		}
		select {
		case f := <-c.inbox:
			c.srv.handle(c, &sess, f)
		case <-c.drainCh:
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// queueClose asks the writer to send a close frame after the frames already
// queued (past the frame cap: it is the last frame).
func (c *conn) queueClose(code int, reason string) {
	if c.ctx.Err() == nil {
		c.push(outbound{close: &closeFrame{code: code, reason: reason}}, -1)
	}
}

func (c *conn) writePump() {
	cfg := c.srv.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.sendReady:
			for _, m := range c.takeQueued() {
				_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
				if m.close != nil {
					_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(m.close.code, m.close.reason))
					// The client answers the close frame, which ends readPump; if
					// it does not, the socket is closed after the write wait.
					select {
					case <-c.ctx.Done():
					case <-time.After(cfg.WriteWait):
						c.terminate()
					}
					return
				}
				c.queuedBytes.Add(-int64(len(m.data)))
				if err := c.ws.WriteMessage(websocket.TextMessage, m.data); err != nil {
					c.terminate()
					return
				}
			}
		case <-ping.C:
			_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.terminate()
				return
			}
		case <-c.ctx.Done():
			return
		}
	}
}
