
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
            cand warp 'Apply an affine, projective or thin-plate-spline transform to an image'
            cand rectify 'Rectify images: predict a theta per image with a localisation net, then warp'
            cand predict 'Predict thetas without warping: one JSON line per image on standard output'
            cand model 'List the built-in localisation models, or inspect one or an ONNX file'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stn;warp'= {
            cand --theta 'PyTorch theta, six numbers a,b,c,d,e,f (row-major 2×3; output → input, normalised coordinates)'
            cand --homography 'Homography, nine numbers h11,…,h33 (row-major 3×3; output → input, normalised coordinates, like --theta). Where h31·x + h32·y + h33 ≤ 0 the output is 0'
            cand --perspective 'OpenCV perspective matrix, nine numbers (row-major 3×3; source pixel → destination pixel, pixel centres at integers, as cv2.warpPerspective)'
            cand --corners 'Document-scanner corners x1,y1,…,x4,y4: the input pixel positions (centres at integers) that the output''s top-left, top-right, bottom-right and bottom-left pixel centres come from (as cv2.getPerspectiveTransform + warpPerspective). Needs --size'
            cand --tps 'Thin-plate spline: a JSON file `{"target": [[x, y], …], "source": [[x, y], …]}` of output points and the input points they sample (normalised)'
            cand --matrix 'OpenCV pixel matrix, six numbers (row-major 2×3; source pixel → destination pixel, pixel centres at integers, as cv2.warpAffine)'
            cand --thetas 'Apply a JSON-lines thetas file (from `stn predict` or `rectify --thetas`): each line''s image is warped into the output directory. Lines carry a "theta", a "homography" or a "tps"'
            cand --size 'Output size [default: the input''s size]'
            cand --interp 'Interpolation kernel'
            cand --padding 'What lies outside the input [default: zeros, or the model''s stn.padding]'
            cand --format 'Output format [default: from the output''s extension; PNG on stdout]'
            cand --shard 'With --thetas: take only shard I of N (I = 0 … N−1), the lines whose output path hashes to I mod N'
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
            cand --shard 'Take only shard I of N (I = 0 … N−1): the files whose relative path hashes to I mod N. The N runs 0/N … (N−1)/N together do one run''s work'
            cand -o 'Output directory; outputs mirror the inputs'' relative paths'
            cand --output 'Output directory; outputs mirror the inputs'' relative paths'
            cand --format 'Output format [default: the input''s]'
            cand --png-compression 'PNG compression: fast (default, larger files) to best (smallest, slowest)'
            cand --quality 'JPEG quality, 1-100, on libjpeg''s scale (as OpenCV and Pillow)'
            cand --model 'The localisation net: a built-in model (mnist, doc-page) or an ONNX file [default: mnist]'
            cand --batch 'Images per inference batch'
            cand --input-size 'Model input size [default: from the model]'
            cand --mean 'Per-channel mean subtracted after scaling pixels to [0, 1] [default: from the model, else 0]'
            cand --std 'Per-channel divisor applied after the mean [default: from the model, else 1]'
            cand --ort-lib 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]'
            cand --size 'Output size [default: the input''s size]'
            cand --interp 'Interpolation kernel'
            cand --padding 'What lies outside the input [default: zeros, or the model''s stn.padding]'
            cand --thetas 'Also write the thetas as JSON lines to FILE'
            cand --overlay 'Also write each input with the sampled region outlined into DIR: the quadrilateral of an affine or projective transform, the image of the output''s border (a curve) for a thin-plate spline, one per part'
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
            cand --shard 'Take only shard I of N (I = 0 … N−1): the files whose relative path hashes to I mod N. The N runs 0/N … (N−1)/N together do one run''s work'
            cand --model 'The localisation net: a built-in model (mnist, doc-page) or an ONNX file [default: mnist]'
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
            cand list 'List the built-in models: name, input and output sizes, transform family, purpose'
            cand info 'Print a model''s inputs, outputs, metadata and the contract stn reads from it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stn;model;list'= {
            cand -j 'Worker threads [default: one per core]'
            cand --jobs 'Worker threads [default: one per core]'
            cand --max-pixels 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'stn;model;info'= {
            cand --model 'The localisation net: a built-in model (mnist, doc-page) or an ONNX file [default: mnist]'
            cand --ort-lib 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]'
            cand -j 'Worker threads [default: one per core]'
            cand --jobs 'Worker threads [default: one per core]'
            cand --max-pixels 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'stn;model;help'= {
            cand list 'List the built-in models: name, input and output sizes, transform family, purpose'
            cand info 'Print a model''s inputs, outputs, metadata and the contract stn reads from it'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'stn;model;help;list'= {
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
            cand warp 'Apply an affine, projective or thin-plate-spline transform to an image'
            cand rectify 'Rectify images: predict a theta per image with a localisation net, then warp'
            cand predict 'Predict thetas without warping: one JSON line per image on standard output'
            cand model 'List the built-in localisation models, or inspect one or an ONNX file'
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
            cand list 'List the built-in models: name, input and output sizes, transform family, purpose'
            cand info 'Print a model''s inputs, outputs, metadata and the contract stn reads from it'
        }
        &'stn;help;model;list'= {
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
