// Command etcd is upstream's etcd server main, built from the same module graph as
// kube-apiserver so that the two versions match what Kubernetes tests with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
