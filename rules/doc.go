// Package rules owns the closed fact schema and the function from published
// rules and attributable facts to a code.
//
// The schema (Kinds, ValidateFact) is closed: a rule can read only the kinds
// it declares, so a rule about anything else cannot be written. Rulesets are
// YAML files of CEL conditions typed against the schema (Parse, Check);
// Evaluate computes a resident's colour, the rule that decided it, the facts
// it rests on, and when it could next change.
//
// The package imports only the standard library, the root package, cel-go,
// yaml.v3 and go-json-experiment's jsontext (which finds a duplicate name
// in a payload). It does no I/O and reads no clock: the time is an input.
package rules
