package figure

import "codeberg.org/go-fonts/liberation/liberationserifregular"

// FontFamily is the font the figures' text is laid out in, as their SVG
// names it. A page that shows the SVG inline should serve FontTTF under
// that name (@font-face): a browser without the font would draw the text in
// a wider one, and legend labels and titles would overrun the space
// measured for them.
const FontFamily = "Liberation Serif"

// FontTTF is FontFamily's regular face, the only one the figures use.
var FontTTF = liberationserifregular.TTF
