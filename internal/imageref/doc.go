// Package imageref splits container image references, for the fields that
// show an image's repository and tag (the agent's container.image.*, the
// admission webhook's tags). The audit source keeps the k8saudit plugin's
// own cruder split, which its rules expect.
package imageref
