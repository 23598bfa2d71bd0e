package selftest

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
)

// trigger sets off one harmless rule of each source and returns the
// checks, with when each was triggered.
func (s *run) trigger(ctx context.Context) ([]*check, error) {
	admission := &check{Source: "k8s_admission", Rule: "Warn on latest image", sent: time.Now()}
	// A dry run reaches the webhook and creates nothing; its image has no tag.
	untagged := s.pod("busybox")
	if _, err := s.client.CoreV1().Pods(s.ns).Create(ctx, untagged, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		return nil, fmt.Errorf("dry-run pod: %w", err)
	}
	if _, err := s.client.CoreV1().Pods(s.ns).Create(ctx, s.pod(s.o.Image), metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create pod: %w", err)
	}
	if err := s.waitRunning(ctx); err != nil {
		return nil, err
	}
	now := time.Now()
	audit := &check{Source: "k8s_audit", Rule: "Exec or attach into a pod", sent: now}
	syscall := &check{Source: "syscall", Rule: "Shell spawned in a container", sent: now}
	if err := s.exec(ctx, "sh", "-c", "true"); err != nil {
		return nil, fmt.Errorf("exec into the pod: %w", err)
	}
	return []*check{admission, audit, syscall}, nil
}

func (s *run) pod(image string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: s.ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image, ImagePullPolicy: s.o.PullPolicy,
			Command: []string{"sleep", "600"}}}, TerminationGracePeriodSeconds: new(int64)}}
}

func (s *run) waitRunning(ctx context.Context) error {
	deadline := time.Now().Add(s.o.Timeout)
	for time.Now().Before(deadline) {
		p, err := s.client.CoreV1().Pods(s.ns).Get(ctx, podName, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("pod %s/%s not running after %s", s.ns, podName, s.o.Timeout)
}

func (s *run) exec(ctx context.Context, command ...string) error {
	req := s.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(s.ns).Name(podName).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "c", Command: command, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(s.o.Config, "POST", req.URL())
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
}
