// Package demodata embeds the demo store's catalogue: the Icecat electronics
// and office catalogue as used by the Chorus e-commerce search demo
// (19,406 products in four zipped JSON arrays; Icecat Open Content Licence,
// Chorus code Apache-2.0, see icecat/LICENSE-chorus-code.txt).
package demodata

import "embed"

// FS holds icecat/1.json.zip … icecat/4.json.zip.
//
//go:embed icecat/*.json.zip
var FS embed.FS

// IcecatGlob matches the demo catalogue's files in FS.
const IcecatGlob = "icecat/*.json.zip"
