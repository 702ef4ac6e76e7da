// Command argolua runs an Argo CD resource health check written in Lua on each object of a
// Kubernetes List read from standard input, the way Argo CD (util/lua) does: gopher-lua (the
// interpreter Argo CD embeds), only the package, base and table libraries opened (Argo CD adds a
// restricted os library, left out here: callsync's scripts do not use it; string, math and io are
// not opened for user health scripts), a one-second limit, the object as the global `obj`, and
// the returned table's `status` and `message` as the result. An invalid status is an error here
// (Argo CD would show Unknown).
//
//	argolua SCRIPT.lua < list.json
//
// Output: one JSON object per input object, in order: {"name": "...", "status": "Healthy", "message": "..."}
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The health states Argo CD accepts from a script (gitops-engine's health.HealthStatusCode).
var validStatus = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

type result struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argolua SCRIPT.lua < list.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "argolua:", err)
		os.Exit(1)
	}
}

func run(scriptPath string, in io.Reader, out io.Writer) error {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return err
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	dec := json.NewDecoder(in)
	dec.UseNumber()
	if err := dec.Decode(&list); err != nil {
		return fmt.Errorf("read a List as JSON: %w", err)
	}
	enc := json.NewEncoder(out)
	for _, item := range list.Items {
		name, _ := item["metadata"].(map[string]any)["name"].(string)
		r, err := health(string(script), item)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.Name = name
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func health(script string, obj map[string]any) (result, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return result{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decode(l, obj))
	if err := l.DoString(script); err != nil {
		return result{}, err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return result{}, fmt.Errorf("the script must return a table, got %s", l.Get(-1).Type())
	}
	r := result{Status: lua.LVAsString(table.RawGetString("status")), Message: lua.LVAsString(table.RawGetString("message"))}
	if !validStatus[r.Status] {
		return result{}, fmt.Errorf("the script returned status %q, which Argo CD does not accept", r.Status)
	}
	return r, nil
}

// decode turns decoded JSON into Lua values as Argo CD's lua.decodeValue does: objects and
// arrays become tables (arrays 1-based), numbers LNumber, null nil.
func decode(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return lua.LString(v.String())
		}
		return lua.LNumber(f)
	case []any:
		t := l.NewTable()
		for _, item := range v {
			t.Append(decode(l, item))
		}
		return t
	case map[string]any:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, decode(l, item))
		}
		return t
	default:
		return lua.LString(fmt.Sprint(v))
	}
}
