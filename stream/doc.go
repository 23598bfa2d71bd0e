// Package stream owns the link between node agents and the service.
//
// An agent holds one long-lived request open per replica of the service:
// POST /agent/v1/stream over TLS, authenticated by a client certificate
// or a bearer token, both directions of which carry frames (HTTP/1.1 full
// duplex, or HTTP/2).
//
//	frame   = kind:1 length:4 payload:length      (length big-endian, ≤ 8 MiB)
//	kind    = message type | 0x80 when the payload is deflated
//	payload = one JSON message
//
// Agent to service:
//
//	'h' Hello   {"node","hostname","instance","linked"}  first frame: who is calling
//	'a' Alerts  {"seq","alerts":[alert...]}             a batch of alerts (up to 256, or what 50 ms gathered)
//
// Service to agent:
//
//	'r' Peers   {"replica","urls"}               first frame: which replica this is, where the others are
//	'k' Ack     {"seq"}                          the batch seq and all before it are delivered
//	'n' Announce session.Announcement            an exec about to start in a container of the node
//	'c' Confirm  session.Confirmation            an exec's audit ID
//	'p' Pods    {"containers":[container...]}    every container of the node (sent again when it changes)
//
// Volume is in the alerts: they are batched, and a payload over 1 KiB is
// deflated (a batch of similar alerts shrinks ~10x). Alerts stay in the
// agent's bounded buffer until acknowledged and are sent again after a
// reconnect, so a restarting service loses none; when the buffer is full
// the oldest batch is dropped and counted.
//
// # Several replicas
//
// The service runs as several replicas with no state shared between them:
// any of them may admit an exec, and the announcement must reach the
// agent of the pod's node. So every agent links to every replica. It is
// given one (server.url); each replica's Peers frame names the others
// (agents.peers, a static list of their agent-stream URLs), and the agent
// links to every URL it learns. Announcements and confirmations come down
// whichever link their replica has; pods come down all of them.
//
// Alerts go up one link, the primary: the first link up. Each alert
// carries an id the agent made ("uuid" in the JSON). A replica
// acknowledges a batch once its outputs have delivered every alert of it
// (written, posted, or dropped and counted by a full output queue), in
// order, at most 64 batches ahead of its outputs: past that it stops
// reading, and the agent keeps the rest in its buffer. So a replica
// killed with alerts received but not yet written leaves them
// unacknowledged. An output slower than 2 s (a webhook retrying) does not
// hold the stream: the batch is acknowledged then, and counted
// (peregrine_agent_batches_acked_undelivered_total). A quiet stream gets
// an empty ack every second, so that a replica notices within seconds an
// agent that is gone. When the primary's replica goes away, the next link up
// becomes the primary and sends every batch not yet acknowledged, then
// the new ones. A replica drops a batch it has published already, by the
// agent's instance and the batch's seq
// (peregrine_agent_alerts_duplicate_total); a batch delivered by a
// replica that died before its acknowledgement reached the agent is
// delivered again by the next one, and the agent counts what it sends
// again (peregrine_stream_alerts_resent_total): at least once, never lost
// while the buffer holds. A replica that stops (SIGTERM) stops reading,
// acknowledges what its outputs delivered, then ends its streams.
//
// Failure modes: a replica that names an unreachable peer delays nothing
// (each link connects on its own, with its own backoff; announcements go
// on the links that are up). Two URLs of one replica make one link: the
// replica says its id (Peers.replica) and refuses, with 409, a link from an
// agent whose hello says it reaches that replica already (Hello.linked).
// An agent that reaches no replica buffers, bounded and counted, as with
// one. A replica that is not linked to the node's agent when it admits an
// exec counts it as no_agent in peregrine_exec_sessions_total; the
// process then has no k8s.exec.* fields. That happens while a link is in
// its backoff (up to 30 s): after its replica restarted, or after the
// apiserver could not review the agent's token (its own restart).
package stream
