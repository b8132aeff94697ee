
use builtin;
use str;

set edit:completion:arg-completer[stn] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'stn'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'stn'= {
            cand -j 'Worker threads [default: one per core]'
            cand --jobs 'Worker threads [default: one per core]'
            cand --max-pixels 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand warp 'Apply an affine matrix to an image'
            cand rectify 'Rectify images: predict a theta per image with a localisation net, then warp'
            cand predict 'Predict thetas without warping: one JSON line per image on standard output'
            cand model 'Inspect localisation models'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stn;warp'= {
            cand --theta 'PyTorch theta, six numbers a,b,c,d,e,f (row-major 2×3; output → input, normalised coordinates)'
            cand --matrix 'OpenCV pixel matrix, six numbers (row-major 2×3; source pixel → destination pixel, pixel centres at integers, as cv2.warpAffine)'
            cand --thetas 'Apply a JSON-lines thetas file (from `stn predict` or `rectify --thetas`): each line''s image is warped into the output directory'
            cand --size 'Output size [default: the input''s size]'
            cand --interp 'Interpolation kernel'
            cand --padding 'What lies outside the input'
            cand --format 'Output format [default: from the output''s extension; PNG on stdout]'
            cand --png-compression 'PNG compression: fast (default, larger files) to best (smallest, slowest)'
            cand --quality 'JPEG quality, 1-100, on libjpeg''s scale (as OpenCV and Pillow)'
            cand -o 'Output image; `-` writes standard output. With --thetas, a directory'
            cand --output 'Output image; `-` writes standard output. With --thetas, a directory'
            cand -j 'Worker threads [default: one per core]'
            cand --jobs 'Worker threads [default: one per core]'
            cand --max-pixels 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs'
            cand --align-corners 'Normalised ±1 are the centres of the corner pixels, not their outer edges'
            cand --overwrite 'Allow the output to replace the input file (with --thetas: replace existing outputs)'
            cand --skip-existing 'With --thetas: leave existing outputs alone and count them as skipped'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'stn;rectify'= {
            cand -o 'Output directory; outputs mirror the inputs'' relative paths'
            cand --output 'Output directory; outputs mirror the inputs'' relative paths'
            cand --format 'Output format [default: the input''s]'
            cand --png-compression 'PNG compression: fast (default, larger files) to best (smallest, slowest)'
            cand --quality 'JPEG quality, 1-100, on libjpeg''s scale (as OpenCV and Pillow)'
            cand --model 'An ONNX localisation net [default: the embedded MNIST RTS model]'
            cand --batch 'Images per inference batch'
            cand --input-size 'Model input size [default: from the model]'
            cand --mean 'Per-channel mean subtracted after scaling pixels to [0, 1] [default: from the model, else 0]'
            cand --std 'Per-channel divisor applied after the mean [default: from the model, else 1]'
            cand --ort-lib 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]'
            cand --size 'Output size [default: the input''s size]'
            cand --interp 'Interpolation kernel'
            cand --padding 'What lies outside the input'
            cand --thetas 'Also write the thetas as JSON lines to FILE'
            cand --overlay 'Also write each input with the sampled region outlined into DIR'
            cand -j 'Worker threads [default: one per core]'
            cand --jobs 'Worker threads [default: one per core]'
            cand --max-pixels 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs'
            cand -q 'No progress bar'
            cand --quiet 'No progress bar'
            cand --overwrite 'Replace existing outputs'
            cand --skip-existing 'Leave existing outputs alone and count them as skipped'
            cand --align-corners 'Normalised ±1 are the centres of the corner pixels, not their outer edges'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'stn;predict'= {
            cand --model 'An ONNX localisation net [default: the embedded MNIST RTS model]'
            cand --batch 'Images per inference batch'
            cand --input-size 'Model input size [default: from the model]'
            cand --mean 'Per-channel mean subtracted after scaling pixels to [0, 1] [default: from the model, else 0]'
            cand --std 'Per-channel divisor applied after the mean [default: from the model, else 1]'
            cand --ort-lib 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]'
            cand --size 'Output size recorded in each line [default: from the model]'
            cand -j 'Worker threads [default: one per core]'
            cand --jobs 'Worker threads [default: one per core]'
            cand --max-pixels 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs'
            cand -q 'No progress bar'
            cand --quiet 'No progress bar'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'stn;model'= {
            cand -j 'Worker threads [default: one per core]'
            cand --jobs 'Worker threads [default: one per core]'
            cand --max-pixels 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs'
            cand -h 'Print help'
            cand --help 'Print help'
            cand info 'Print a model''s inputs, outputs, metadata and the contract stn reads from it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stn;model;info'= {
            cand --ort-lib 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]'
            cand -j 'Worker threads [default: one per core]'
            cand --jobs 'Worker threads [default: one per core]'
            cand --max-pixels 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'stn;model;help'= {
            cand info 'Print a model''s inputs, outputs, metadata and the contract stn reads from it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stn;model;help;info'= {
        }
        &'stn;model;help;help'= {
        }
        &'stn;completions'= {
            cand -j 'Worker threads [default: one per core]'
            cand --jobs 'Worker threads [default: one per core]'
            cand --max-pixels 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'stn;help'= {
            cand warp 'Apply an affine matrix to an image'
            cand rectify 'Rectify images: predict a theta per image with a localisation net, then warp'
            cand predict 'Predict thetas without warping: one JSON line per image on standard output'
            cand model 'Inspect localisation models'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stn;help;warp'= {
        }
        &'stn;help;rectify'= {
        }
        &'stn;help;predict'= {
        }
        &'stn;help;model'= {
            cand info 'Print a model''s inputs, outputs, metadata and the contract stn reads from it'
        }
        &'stn;help;model;info'= {
        }
        &'stn;help;completions'= {
        }
        &'stn;help;help'= {
        }
    ]
    $completions[$command]
}
