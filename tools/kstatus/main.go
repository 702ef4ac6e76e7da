// Command kstatus computes, for each object of a Kubernetes List read from standard input, the
// status that the upstream kstatus library (sigs.k8s.io/cli-utils/pkg/kstatus/status, used by
// kubectl-style waiters, Flux and kpt) gives it, and, with -flux FILE, the result of Flux
// `healthCheckExprs` CEL expressions evaluated the way Flux's CEL status evaluator does.
//
//	kstatus [-flux exprs.json] < list.json
//
// Output: one JSON object per input object, in order:
//
//	{"name": "...", "kstatus": "Current", "message": "...", "flux": "Current"}
//
// The flux file holds {"current": "...", "failed": "...", "inProgress": "..."} (inProgress and
// failed optional), the fields of a Kustomization's spec.healthCheckExprs entry.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type fluxExprs struct {
	Current    string `json:"current"`
	Failed     string `json:"failed,omitempty"`
	InProgress string `json:"inProgress,omitempty"`
}

type result struct {
	Name    string `json:"name"`
	Kstatus string `json:"kstatus"`
	Message string `json:"message"`
	Flux    string `json:"flux,omitempty"`
}

func main() {
	fluxFile := flag.String("flux", "", "JSON file with Flux healthCheckExprs (current, failed, inProgress)")
	flag.Parse()
	if err := run(*fluxFile, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(fluxFile string, in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	// The apimachinery decoder, as clients see objects: integers stay int64.
	list := &unstructured.UnstructuredList{}
	if err := list.UnmarshalJSON(data); err != nil {
		return fmt.Errorf("read a List as JSON: %w", err)
	}
	var evaluator *fluxEvaluator
	if fluxFile != "" {
		raw, err := os.ReadFile(fluxFile)
		if err != nil {
			return err
		}
		var exprs fluxExprs
		if err := json.Unmarshal(raw, &exprs); err != nil {
			return fmt.Errorf("%s: %w", fluxFile, err)
		}
		if evaluator, err = newFluxEvaluator(exprs); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(out)
	for i := range list.Items {
		u := &list.Items[i]
		res, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("%s: %w", u.GetName(), err)
		}
		r := result{Name: u.GetName(), Kstatus: res.Status.String(), Message: res.Message}
		if evaluator != nil {
			if r.Flux, err = evaluator.evaluate(u); err != nil {
				return fmt.Errorf("%s: flux: %w", u.GetName(), err)
			}
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// fluxEvaluator mirrors github.com/fluxcd/pkg/runtime/cel's StatusEvaluator (RFC 0009): the
// same CEL environment options; expressions are parsed, not compiled, with no declared variables,
// and evaluated with the whole object as the activation, so `metadata`, `spec` and `status` are
// the object's top-level fields and a missing one is an evaluation error (Flux then keeps waiting
// until the health check times out). An object whose status.observedGeneration differs from
// metadata.generation is InProgress; then inProgress, failed and current are tried in that
// order; when none holds, the object is InProgress. An evaluation error is reported as
// "Error: <message>".
type fluxEvaluator struct {
	inProgress, failed, current cel.Program
}

func newFluxEvaluator(e fluxExprs) (*fluxEvaluator, error) {
	if e.Current == "" {
		return nil, fmt.Errorf("the current expression is required, as in Flux")
	}
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	)
	if err != nil {
		return nil, err
	}
	parse := func(name, expr string) (cel.Program, error) {
		if expr == "" {
			return nil, nil
		}
		ast, issues := env.Parse(expr)
		if issues != nil && issues.Err() != nil {
			return nil, fmt.Errorf("%s: %w", name, issues.Err())
		}
		return env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
	}
	ev := &fluxEvaluator{}
	if ev.inProgress, err = parse("inProgress", e.InProgress); err != nil {
		return nil, err
	}
	if ev.failed, err = parse("failed", e.Failed); err != nil {
		return nil, err
	}
	if ev.current, err = parse("current", e.Current); err != nil {
		return nil, err
	}
	return ev, nil
}

func (ev *fluxEvaluator) evaluate(u *unstructured.Unstructured) (string, error) {
	observed, found, err := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if err != nil {
		return "", err
	}
	if found {
		generation, ok, err := unstructured.NestedInt64(u.Object, "metadata", "generation")
		if err != nil {
			return "", err
		}
		if ok && observed != generation {
			return status.InProgressStatus.String(), nil
		}
	}
	for _, step := range []struct {
		prog cel.Program
		st   status.Status
	}{
		{ev.inProgress, status.InProgressStatus},
		{ev.failed, status.FailedStatus},
		{ev.current, status.CurrentStatus},
	} {
		if step.prog == nil {
			continue
		}
		out, _, err := step.prog.Eval(u.Object)
		if err != nil {
			return "Error: " + err.Error(), nil
		}
		b, ok := out.(types.Bool)
		if !ok {
			return "Error: not a boolean expression", nil
		}
		if b {
			return step.st.String(), nil
		}
	}
	return status.InProgressStatus.String(), nil
}
