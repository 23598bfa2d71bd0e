// Package stream owns the link between node agents and the service.
//
// An agent holds one long-lived request open: POST /agent/v1/stream over
// TLS, authenticated by a client certificate or a bearer token, both
// directions of which carry frames (HTTP/1.1 full duplex, or HTTP/2).
//
//	frame   = kind:1 length:4 payload:length      (length big-endian, ≤ 8 MiB)
//	kind    = message type | 0x80 when the payload is deflated
//	payload = one JSON message
//
// Agent to service:
//
//	'h' Hello   {"node","hostname"}                  first frame: who is calling
//	'a' Alerts  {"seq","alerts":[alert...]}          a batch of alerts (up to 256, or what 50 ms gathered)
//
// Service to agent:
//
//	'k' Ack     {"seq"}                              the batch seq and all before it are published
//	'n' Announce session.Announcement                an exec about to start in a container of the node
//	'c' Confirm  session.Confirmation                an exec's audit ID
//	'p' Pods    {"containers":[container...]}        every container of the node (sent again when it changes)
//
// Volume is in the alerts: they are batched, and a payload over 1 KiB is
// deflated (a batch of similar alerts shrinks ~10x). Alerts stay in the
// agent's bounded buffer until acknowledged and are sent again after a
// reconnect, so a restarting service loses none (it may see a batch
// twice); when the buffer is full the oldest batch is dropped and counted.
package stream
