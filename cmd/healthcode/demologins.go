package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/healthcode/healthcode"
	"github.com/healthcode/healthcode/server"
)

// The start page lists the first demoResidents resident logins (the demo
// story gives them a green, a red, a yellow and a pending code, and one is
// the case) and up to demoPerRole officials of each role.
const (
	demoResidents = 5
	demoPerRole   = 2
)

// demoLogins reads the credentials file seedDemo wrote and picks the logins
// the start page offers, in the file's order.
func demoLogins(path string) ([]server.DemoLogin, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read demo credentials: %w", err)
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read demo credentials %s: %w", path, err)
	}
	var out []server.DemoLogin
	for i, r := range c.Residents {
		if i == demoResidents {
			break
		}
		out = append(out, server.DemoLogin{Login: r.Login, Password: r.Password, Name: r.Name, Role: string(healthcode.RoleResident)})
	}
	perRole := map[string]int{}
	for _, o := range c.Officials {
		if perRole[o.Role] == demoPerRole {
			continue
		}
		perRole[o.Role]++
		out = append(out, server.DemoLogin{Login: o.Login, Password: o.Password, Name: o.Name, Role: o.Role})
	}
	return out, nil
}
