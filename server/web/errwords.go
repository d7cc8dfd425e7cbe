package web

import (
	"errors"
	"regexp"

	"github.com/healthcode/healthcode"
)

// The store's and the API's errors are written in English, for the JSON
// API's "message" and the logs. A page says them in its own language:
// errorText finds the message's pattern in errPatterns and the field's
// words in the catalogue (errmsg.KEY, errfield.FIELD), so a zh-CN page
// says what was wrong and where in Chinese and never shows an internal
// id. A message no pattern knows is said by its kind (error.CODE), with
// the technical message beside it in a <code> block.

// pageError is an error as a page shows it.
type pageError struct {
	Text   string // what was wrong and where, in the page's language
	Detail string // the technical message, for a <code> block, when Text can only name its kind
}

// storeLang is the language of the store's own messages: pages in it
// show them as they are.
const storeLang = "en"

// errPatterns match the store's messages; each pattern's groups are the
// arguments of its catalogue message errmsg.KEY. The first match wins.
var errPatterns = []struct {
	re  *regexp.Regexp
	key string
}{
	{regexp.MustCompile(`^is required: say why`), "statement_required"},
	{regexp.MustCompile(`^is required: a name`), "query_required"},
	{regexp.MustCompile(`^is required: find and choose the resident`), "choose_resident"},
	{regexp.MustCompile(`^is required$`), "required"},
	{regexp.MustCompile(`^is longer than (\d+) bytes$`), "too_long_bytes"},
	{regexp.MustCompile(`^is longer than (\d+) characters$`), "too_long_chars"},
	{regexp.MustCompile(`is in the future$`), "future"},
	{regexp.MustCompile(`^must be after from$`), "until_after_from"},
	{regexp.MustCompile(`^is before arrived_at$`), "departed_before"},
	{regexp.MustCompile(`is not one of`), "not_one_of"},
	{regexp.MustCompile(`must not be empty$`), "empty"},
	{regexp.MustCompile(`(?:is about an area|must be digits only|digit division code)`), "area"},
	{regexp.MustCompile(`^no resident `), "no_resident"},
	{regexp.MustCompile(`^no appeal `), "no_appeal"},
	{regexp.MustCompile(`^no fact .* about `), "no_fact_about"},
	{regexp.MustCompile(`^no fact `), "no_fact"},
	{regexp.MustCompile(`^no ruleset `), "no_ruleset"},
	{regexp.MustCompile(`^no page `), "no_page"},
	{regexp.MustCompile(`no attachment`), "no_attachment"},
	{regexp.MustCompile(`^no language`), "no_language"},
	{regexp.MustCompile(`^no official`), "no_official"},
	{regexp.MustCompile(`^entry \d+ is beyond the witnessed checkpoint's size (\d+)`), "beyond_witnessed"},
	{regexp.MustCompile(`^entry \d+ is beyond the log's size (\d+)`), "beyond_log"},
	{regexp.MustCompile(`^name at least one disputed fact`), "dispute_none"},
	{regexp.MustCompile(`^names more than (\d+) facts`), "dispute_many"},
	{regexp.MustCompile(`^fact \S+ is \S+ already`), "dispute_done"},
	{regexp.MustCompile(`has (\d+) undecided appeals`), "open_appeals"},
	{regexp.MustCompile(`needs a (?:written )?reason$`), "reason"},
	{regexp.MustCompile(`^must be (?:grant or deny|approve or refuse)$`), "decision"},
	{regexp.MustCompile(`^you recorded this fact`), "own_fact"},
	{regexp.MustCompile(`^you recorded or approved disputed fact`), "involved"},
	{regexp.MustCompile(`, not pending$`), "not_pending"},
	{regexp.MustCompile(`^fact \S+ is already `), "fact_already"},
	{regexp.MustCompile(`^appeal \S+ is \S+, not (?:open|awaiting consent)$`), "appeal_closed"},
	{regexp.MustCompile(`, not a draft$`), "not_draft"},
	{regexp.MustCompile(`^ruleset (\S+) already has version (\d+)`), "version_exists"},
	{regexp.MustCompile(`^the drafter cannot approve`), "drafter"},
	{regexp.MustCompile(`^ruleset \S+ has (\d+) error`), "ruleset_errors"},
	{regexp.MustCompile(`a ruleset is scoped to a province`), "province"},
	{regexp.MustCompile(`^ruleset file is larger than`), "ruleset_size"},
	{regexp.MustCompile(`^is not a date and time`), "datetime"},
	{regexp.MustCompile(`^the form has expired`), "csrf"},
	{regexp.MustCompile(`^this form was already sent, with other values`), "form_resent"},
	{regexp.MustCompile(`^the form is too large or malformed`), "form_size"},
	{regexp.MustCompile(`^must be (?:a positive entry index|a non-negative integer|an integer tree size|a page number)`), "number"},
	{regexp.MustCompile(`(?:may not enter \S+ facts by hand|cannot be entered here)`), "by_hand"},
	{regexp.MustCompile(`^is not a field of`), "not_field"},
	{regexp.MustCompile(`RFC 3339 time`), "time"},
	{regexp.MustCompile(`^must be an integer$`), "integer"},
	{regexp.MustCompile(`^must be between (\d+) and (\d+)`), "between"},
	{regexp.MustCompile(`^must cite at least one case`), "cite"},
	{regexp.MustCompile(`^cites more than (\d+) cases`), "cite_many"},
	{regexp.MustCompile(`^case id (\d+) `), "case_id"},
	{regexp.MustCompile(`has a character other than`), "chars"},
	{regexp.MustCompile(`^must be (?:a string|a list of case ids|a JSON object)$`), "format"},
	{regexp.MustCompile(`is larger than (\d+) MiB$`), "file_big"},
	{regexp.MustCompile(`^at most (\d+) attachments`), "attachments"},
	{regexp.MustCompile(`is not a media type`), "media"},
	{regexp.MustCompile(`is given more than once`), "once"},
	{regexp.MustCompile(`^unknown (?:fact |entry )?kind`), "unknown_kind"},
	{regexp.MustCompile(`^the batch is empty`), "empty_batch"},
	{regexp.MustCompile(`^not allowed$`), "not_allowed"},
}

// indexRE is an item's index in a field name: fact_keys[2].
var indexRE = regexp.MustCompile(`\[\d+\]`)

// errorText says err in lang. For a rejected batch it says the first
// error (pages post one item at a time, so its line is not repeated).
func errorText(lang string, err error) pageError {
	var e *healthcode.Error
	if !errors.As(err, &e) {
		s, _ := translate(lang, "error."+healthcode.EINTERNAL)
		return pageError{Text: s}
	}
	if len(e.Details) > 0 {
		e = e.Details[0]
	}
	if lang == storeLang {
		return pageError{Text: healthcode.ErrorMessage(&healthcode.Error{Code: e.Code, Field: e.Field, Message: e.Message})}
	}
	var text, detail string
	for _, p := range errPatterns {
		if m := p.re.FindStringSubmatch(e.Message); m != nil {
			args := make([]any, len(m)-1)
			for i, a := range m[1:] {
				args[i] = a
			}
			text, _ = translate(lang, "errmsg."+p.key, args...)
			break
		}
	}
	if text == "" {
		text, _ = translate(lang, "error."+e.Code)
		detail = healthcode.ErrorMessage(&healthcode.Error{Code: e.Code, Field: e.Field, Message: e.Message})
	}
	if e.Field != "" {
		field := indexRE.ReplaceAllString(e.Field, "")
		words, ok := catalogue[lang]["errfield."+field]
		if !ok {
			words, ok = catalogue[lang]["errfield."+fieldHead(field)]
		}
		switch {
		case ok:
			sep, _ := translate(lang, "errfield.sep")
			text = words + sep + text
		case detail == "":
			detail = e.Field
		}
	}
	return pageError{Text: text, Detail: detail}
}

// fieldHead is a field name's first part: attachments of attachments.data.
func fieldHead(f string) string {
	for i := range len(f) {
		if f[i] == '.' {
			return f[:i]
		}
	}
	return f
}
