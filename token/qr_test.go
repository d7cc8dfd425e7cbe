package token

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthcode/healthcode"
)

func TestPNG(t *testing.T) {
	priv := mustKey(t, "a")
	long := testClaims()
	long.Name = strings.Repeat("\U0002A6D6", MaxNameLen/4)
	tests := []struct {
		name   string
		colour healthcode.Colour
		lang   string
		claims Claims
	}{
		{"green zh", healthcode.Green, "zh-CN", testClaims()},
		{"yellow zh", healthcode.Yellow, "", testClaims()},
		{"red zh longest token", healthcode.Red, "zh-CN", long},
		{"green en", healthcode.Green, "en", testClaims()},
		{"yellow en", healthcode.Yellow, "en", testClaims()},
		{"red en", healthcode.Red, "en", testClaims()},
	}
	zbar, zbarErr := exec.LookPath("zbarimg")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.claims.Colour = tt.colour
			text := mustSign(t, priv, tt.claims)
			img, err := PNG(text, tt.colour, tt.lang)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := png.Decode(bytes.NewReader(img)); err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			got, err := Decode(bytes.NewReader(img))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != text {
				t.Errorf("Decode = %q, want %q", got, text)
			}
			t.Run("zbarimg", func(t *testing.T) {
				if zbarErr != nil {
					t.Skip("zbarimg not installed (Debian package zbar-tools)")
				}
				name := filepath.Join(t.TempDir(), "code.png")
				if err := os.WriteFile(name, img, 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", name).Output()
				if err != nil {
					t.Fatalf("zbarimg: %v", err)
				}
				if got := strings.TrimSuffix(string(out), "\n"); got != text {
					t.Errorf("zbarimg read %q, want %q", got, text)
				}
			})
			if os.Getenv("HEALTHCODE_WRITE_PNG") != "" {
				if err := os.WriteFile(filepath.Join(os.Getenv("HEALTHCODE_WRITE_PNG"), strings.ReplaceAll(tt.name, " ", "-")+".png"), img, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeHardCodes decodes codes whose finder patterns gozxing's
// detector misses the right way up (about one random code in a hundred;
// found by decoding 1,000): Decode turns them.
func TestDecodeHardCodes(t *testing.T) {
	for _, text := range []string{
		"HCT1:.E4NLI:HVP-2+TWFREOSJIWPLHZ/U/J ZT86F63*C/PXPRZ0Z*PT6W:J2WA4L3W/N0E*$F*51AUPY.K2I7%R$8AZT$1Y7440 +A8R2G5D43*WZXMWO:70ER3U65%ME 2 5$QI267 TP427JRW9M2XR",
		"HCT1:6M8E.$ QVBDF03716.LIC*QZ4LJ/7EI$8BX82+T-XFA :3-V7LZ81S*HB5FN/CXP7DSO*B9 +9HLTJ33:EBNLU$ *CHE*XL2Q6MR.$.8:TB 0QF*E$BGU6-OAQ576R7DN0ROH*Z836BAJTMZ1 LL.D",
		"HCT1:.:Z+WYWROOT/UYXUE 2ZV88:29EVVO6DG/KA18KNX9O762K%58%CWGGPUZIR$:PHWE3+07I4K+XOPNIU:2$R6RSB/O$4N60BF0 GW0RZRDQ:17M*3IOO7*FF4/2RAN0M%+HOYUEB5%F4BYFXOI MUX",
	} {
		img, err := PNG(text, healthcode.Green, "zh-CN")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Decode(bytes.NewReader(img)); err != nil || got != text {
			t.Errorf("Decode(PNG(%.20s...)) = %.20q, %v", text, got, err)
		}
	}
}

func TestPNGErrors(t *testing.T) {
	if _, err := PNG("HCT1:X", "blue", "en"); healthcode.ErrorCode(err) != healthcode.EINVALID {
		t.Errorf("PNG(blue) = %v, want EINVALID", err)
	}
	if _, err := Decode(strings.NewReader("not an image")); healthcode.ErrorCode(err) != healthcode.EINVALID {
		t.Errorf("Decode(garbage) = %v, want EINVALID", err)
	}
	blank := image.NewGray(image.Rect(0, 0, 200, 200))
	var buf bytes.Buffer
	if err := png.Encode(&buf, blank); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(&buf); healthcode.ErrorCode(err) != healthcode.EINVALID {
		t.Errorf("Decode(blank) = %v, want EINVALID", err)
	}
}
