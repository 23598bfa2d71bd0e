// Package server runs `peregrine serve`: the audit webhook endpoint (TLS,
// apiserver authentication, body limits, a bounded queue that pushes back
// with 429 instead of dropping, and answers 200 once the batch's alerts
// are delivered, 2 s at most), the workers that evaluate queued events,
// the admission webhook listener, the listener node agents stream to
// (client certificates, or ServiceAccount tokens checked by TokenReview
// and bound to a node), the routing of exec sessions from admission and
// audit to the agents, the service's own certificates when it manages
// them, the alert outputs, and the health, readiness and metrics
// endpoints, with a graceful shutdown that drains the queue.
package server
