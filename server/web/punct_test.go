package web

import (
	"regexp"
	"testing"
)

// TestPunctuation: a Chinese message uses Chinese punctuation (，。：；（）！？),
// not ASCII punctuation against a Chinese character; and no template
// writes Chinese punctuation itself, which an English page would show
// (punct.* in the catalogue say it in each language).
func TestPunctuation(t *testing.T) {
	ascii := regexp.MustCompile(`\p{Han}[,;:()!?]|[,;:()!?]\p{Han}|\p{Han}\.(?:$|\s)`)
	for k, v := range catalogue["zh-CN"] {
		if m := ascii.FindString(v); m != "" {
			t.Errorf("zh-CN %s: ASCII punctuation in %q (%q)", k, v, m)
		}
	}
	han := regexp.MustCompile(`[（）：，。；！？、]`)
	for lang, c := range catalogue {
		if lang == "zh-CN" {
			continue
		}
		for k, v := range c {
			if m := han.FindString(v); m != "" {
				t.Errorf("%s %s: Chinese punctuation %q in %q", lang, k, m, v)
			}
		}
	}
	files, err := templateFS.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := templateFS.ReadFile("templates/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, loc := range han.FindAllIndex(b, -1) {
			t.Errorf("%s: Chinese punctuation %q written in the template (use punct.*)", f.Name(), b[loc[0]:loc[1]])
		}
	}
}
