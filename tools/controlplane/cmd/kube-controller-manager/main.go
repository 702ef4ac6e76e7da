// Command kube-controller-manager is upstream's kube-controller-manager main, built from the same
// k8s.io/kubernetes module as the apiserver. The test control plane runs only its garbage
// collector and namespace controller, so owner-reference cascades (foreground deletion) and
// namespace deletion behave as on a real cluster.
package main

import (
	"os"
	_ "time/tzdata"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
