# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_stn_global_optspecs
    string join \n j/jobs= max-pixels= h/help V/version
end

function __fish_stn_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_stn_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_stn_using_subcommand
    set -l cmd (__fish_stn_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c stn -n "__fish_stn_needs_command" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c stn -n "__fish_stn_needs_command" -l max-pixels -d 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs' -r
complete -c stn -n "__fish_stn_needs_command" -s h -l help -d 'Print help'
complete -c stn -n "__fish_stn_needs_command" -s V -l version -d 'Print version'
complete -c stn -n "__fish_stn_needs_command" -f -a "warp" -d 'Apply an affine, projective or thin-plate-spline transform to an image'
complete -c stn -n "__fish_stn_needs_command" -f -a "rectify" -d 'Rectify images: predict a theta per image with a localisation net, then warp'
complete -c stn -n "__fish_stn_needs_command" -f -a "predict" -d 'Predict thetas without warping: one JSON line per image on standard output'
complete -c stn -n "__fish_stn_needs_command" -f -a "model" -d 'List the built-in localisation models, or inspect one or an ONNX file'
complete -c stn -n "__fish_stn_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c stn -n "__fish_stn_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stn -n "__fish_stn_using_subcommand warp" -l theta -d 'PyTorch theta, six numbers a,b,c,d,e,f (row-major 2×3; output → input, normalised coordinates)' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -l homography -d 'Homography, nine numbers h11,…,h33 (row-major 3×3; output → input, normalised coordinates, like --theta). Where h31·x + h32·y + h33 ≤ 0 the output is 0' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -l perspective -d 'OpenCV perspective matrix, nine numbers (row-major 3×3; source pixel → destination pixel, pixel centres at integers, as cv2.warpPerspective)' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -l corners -d 'Document-scanner corners x1,y1,…,x4,y4: the input pixel positions (centres at integers) that the output\'s top-left, top-right, bottom-right and bottom-left pixel centres come from (as cv2.getPerspectiveTransform + warpPerspective). Needs --size' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -l tps -d 'Thin-plate spline: a JSON file `{"target": [[x, y], …], "source": [[x, y], …]}` of output points and the input points they sample (normalised)' -r -F
complete -c stn -n "__fish_stn_using_subcommand warp" -l matrix -d 'OpenCV pixel matrix, six numbers (row-major 2×3; source pixel → destination pixel, pixel centres at integers, as cv2.warpAffine)' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -l thetas -d 'Apply a JSON-lines thetas file (from `stn predict` or `rectify --thetas`): each line\'s image is warped into the output directory. Lines carry a "theta", a "homography" or a "tps"' -r -F
complete -c stn -n "__fish_stn_using_subcommand warp" -l size -d 'Output size [default: the input\'s size]' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -l interp -d 'Interpolation kernel' -r -f -a "bilinear\t'2×2 neighbours, linear weights'
nearest\t'The nearest pixel (ties to even)'
bicubic\t'4×4 neighbours, cubic convolution with A = -0.75'"
complete -c stn -n "__fish_stn_using_subcommand warp" -l padding -d 'What lies outside the input [default: zeros, or the model\'s stn.padding]' -r -f -a "zeros\t'Zeros outside the image (alpha too)'
border\t'Repeat the edge pixels'
reflection\t'Mirror the image at its edges'"
complete -c stn -n "__fish_stn_using_subcommand warp" -l format -d 'Output format [default: from the output\'s extension; PNG on stdout]' -r -f -a "png\t'PNG'
jpeg\t'JPEG'
bmp\t'Windows bitmap'
tiff\t'TIFF'
pnm\t'Netpbm: PGM (P5) for grey, PPM (P6) for colour; files named .pnm'
webp\t'WebP (lossless)'
gif\t'GIF'"
complete -c stn -n "__fish_stn_using_subcommand warp" -l shard -d 'With --thetas: take only shard I of N (I = 0 … N−1), the lines whose output path hashes to I mod N' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -l png-compression -d 'PNG compression: fast (default, larger files) to best (smallest, slowest)' -r -f -a "fast\t'Fastest encoding'
default\t'zlib\'s default level'
best\t'Smallest files'"
complete -c stn -n "__fish_stn_using_subcommand warp" -l quality -d 'JPEG quality, 1-100, on libjpeg\'s scale (as OpenCV and Pillow)' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -s o -l output -d 'Output image; `-` writes standard output. With --thetas, a directory' -r -F
complete -c stn -n "__fish_stn_using_subcommand warp" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -l max-pixels -d 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs' -r
complete -c stn -n "__fish_stn_using_subcommand warp" -l align-corners -d 'Normalised ±1 are the centres of the corner pixels, not their outer edges'
complete -c stn -n "__fish_stn_using_subcommand warp" -l overwrite -d 'Allow the output to replace the input file (with --thetas: replace existing outputs)'
complete -c stn -n "__fish_stn_using_subcommand warp" -l skip-existing -d 'With --thetas: leave existing outputs alone and count them as skipped'
complete -c stn -n "__fish_stn_using_subcommand warp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c stn -n "__fish_stn_using_subcommand rectify" -l shard -d 'Take only shard I of N (I = 0 … N−1): the files whose relative path hashes to I mod N. The N runs 0/N … (N−1)/N together do one run\'s work' -r
complete -c stn -n "__fish_stn_using_subcommand rectify" -s o -l output -d 'Output directory; outputs mirror the inputs\' relative paths' -r -F
complete -c stn -n "__fish_stn_using_subcommand rectify" -l format -d 'Output format [default: the input\'s]' -r -f -a "png\t'PNG'
jpeg\t'JPEG'
bmp\t'Windows bitmap'
tiff\t'TIFF'
pnm\t'Netpbm: PGM (P5) for grey, PPM (P6) for colour; files named .pnm'
webp\t'WebP (lossless)'
gif\t'GIF'"
complete -c stn -n "__fish_stn_using_subcommand rectify" -l png-compression -d 'PNG compression: fast (default, larger files) to best (smallest, slowest)' -r -f -a "fast\t'Fastest encoding'
default\t'zlib\'s default level'
best\t'Smallest files'"
complete -c stn -n "__fish_stn_using_subcommand rectify" -l quality -d 'JPEG quality, 1-100, on libjpeg\'s scale (as OpenCV and Pillow)' -r
complete -c stn -n "__fish_stn_using_subcommand rectify" -l model -d 'The localisation net: a built-in model (mnist, doc-page) or an ONNX file [default: mnist]' -r -F
complete -c stn -n "__fish_stn_using_subcommand rectify" -l batch -d 'Images per inference batch' -r
complete -c stn -n "__fish_stn_using_subcommand rectify" -l input-size -d 'Model input size [default: from the model]' -r
complete -c stn -n "__fish_stn_using_subcommand rectify" -l mean -d 'Per-channel mean subtracted after scaling pixels to [0, 1] [default: from the model, else 0]' -r
complete -c stn -n "__fish_stn_using_subcommand rectify" -l std -d 'Per-channel divisor applied after the mean [default: from the model, else 1]' -r
complete -c stn -n "__fish_stn_using_subcommand rectify" -l ort-lib -d 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]' -r -F
complete -c stn -n "__fish_stn_using_subcommand rectify" -l size -d 'Output size [default: the input\'s size]' -r
complete -c stn -n "__fish_stn_using_subcommand rectify" -l interp -d 'Interpolation kernel' -r -f -a "bilinear\t'2×2 neighbours, linear weights'
nearest\t'The nearest pixel (ties to even)'
bicubic\t'4×4 neighbours, cubic convolution with A = -0.75'"
complete -c stn -n "__fish_stn_using_subcommand rectify" -l padding -d 'What lies outside the input [default: zeros, or the model\'s stn.padding]' -r -f -a "zeros\t'Zeros outside the image (alpha too)'
border\t'Repeat the edge pixels'
reflection\t'Mirror the image at its edges'"
complete -c stn -n "__fish_stn_using_subcommand rectify" -l thetas -d 'Also write the thetas as JSON lines to FILE' -r -F
complete -c stn -n "__fish_stn_using_subcommand rectify" -l overlay -d 'Also write each input with the sampled region outlined into DIR: the quadrilateral of an affine or projective transform, the image of the output\'s border (a curve) for a thin-plate spline, one per part' -r -F
complete -c stn -n "__fish_stn_using_subcommand rectify" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c stn -n "__fish_stn_using_subcommand rectify" -l max-pixels -d 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs' -r
complete -c stn -n "__fish_stn_using_subcommand rectify" -s q -l quiet -d 'No progress bar'
complete -c stn -n "__fish_stn_using_subcommand rectify" -l overwrite -d 'Replace existing outputs'
complete -c stn -n "__fish_stn_using_subcommand rectify" -l skip-existing -d 'Leave existing outputs alone and count them as skipped'
complete -c stn -n "__fish_stn_using_subcommand rectify" -l align-corners -d 'Normalised ±1 are the centres of the corner pixels, not their outer edges'
complete -c stn -n "__fish_stn_using_subcommand rectify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c stn -n "__fish_stn_using_subcommand predict" -l shard -d 'Take only shard I of N (I = 0 … N−1): the files whose relative path hashes to I mod N. The N runs 0/N … (N−1)/N together do one run\'s work' -r
complete -c stn -n "__fish_stn_using_subcommand predict" -l model -d 'The localisation net: a built-in model (mnist, doc-page) or an ONNX file [default: mnist]' -r -F
complete -c stn -n "__fish_stn_using_subcommand predict" -l batch -d 'Images per inference batch' -r
complete -c stn -n "__fish_stn_using_subcommand predict" -l input-size -d 'Model input size [default: from the model]' -r
complete -c stn -n "__fish_stn_using_subcommand predict" -l mean -d 'Per-channel mean subtracted after scaling pixels to [0, 1] [default: from the model, else 0]' -r
complete -c stn -n "__fish_stn_using_subcommand predict" -l std -d 'Per-channel divisor applied after the mean [default: from the model, else 1]' -r
complete -c stn -n "__fish_stn_using_subcommand predict" -l ort-lib -d 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]' -r -F
complete -c stn -n "__fish_stn_using_subcommand predict" -l size -d 'Output size recorded in each line [default: from the model]' -r
complete -c stn -n "__fish_stn_using_subcommand predict" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c stn -n "__fish_stn_using_subcommand predict" -l max-pixels -d 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs' -r
complete -c stn -n "__fish_stn_using_subcommand predict" -s q -l quiet -d 'No progress bar'
complete -c stn -n "__fish_stn_using_subcommand predict" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c stn -n "__fish_stn_using_subcommand model; and not __fish_seen_subcommand_from list info help" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c stn -n "__fish_stn_using_subcommand model; and not __fish_seen_subcommand_from list info help" -l max-pixels -d 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs' -r
complete -c stn -n "__fish_stn_using_subcommand model; and not __fish_seen_subcommand_from list info help" -s h -l help -d 'Print help'
complete -c stn -n "__fish_stn_using_subcommand model; and not __fish_seen_subcommand_from list info help" -f -a "list" -d 'List the built-in models: name, input and output sizes, transform family, purpose'
complete -c stn -n "__fish_stn_using_subcommand model; and not __fish_seen_subcommand_from list info help" -f -a "info" -d 'Print a model\'s inputs, outputs, metadata and the contract stn reads from it'
complete -c stn -n "__fish_stn_using_subcommand model; and not __fish_seen_subcommand_from list info help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from list" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from list" -l max-pixels -d 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs' -r
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from info" -l model -d 'The localisation net: a built-in model (mnist, doc-page) or an ONNX file [default: mnist]' -r -F
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from info" -l ort-lib -d 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]' -r -F
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from info" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from info" -l max-pixels -d 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs' -r
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from info" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the built-in models: name, input and output sizes, transform family, purpose'
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "info" -d 'Print a model\'s inputs, outputs, metadata and the contract stn reads from it'
complete -c stn -n "__fish_stn_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stn -n "__fish_stn_using_subcommand completions" -s j -l jobs -d 'Worker threads [default: one per core]' -r
complete -c stn -n "__fish_stn_using_subcommand completions" -l max-pixels -d 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs' -r
complete -c stn -n "__fish_stn_using_subcommand completions" -s h -l help -d 'Print help'
complete -c stn -n "__fish_stn_using_subcommand help; and not __fish_seen_subcommand_from warp rectify predict model completions help" -f -a "warp" -d 'Apply an affine, projective or thin-plate-spline transform to an image'
complete -c stn -n "__fish_stn_using_subcommand help; and not __fish_seen_subcommand_from warp rectify predict model completions help" -f -a "rectify" -d 'Rectify images: predict a theta per image with a localisation net, then warp'
complete -c stn -n "__fish_stn_using_subcommand help; and not __fish_seen_subcommand_from warp rectify predict model completions help" -f -a "predict" -d 'Predict thetas without warping: one JSON line per image on standard output'
complete -c stn -n "__fish_stn_using_subcommand help; and not __fish_seen_subcommand_from warp rectify predict model completions help" -f -a "model" -d 'List the built-in localisation models, or inspect one or an ONNX file'
complete -c stn -n "__fish_stn_using_subcommand help; and not __fish_seen_subcommand_from warp rectify predict model completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c stn -n "__fish_stn_using_subcommand help; and not __fish_seen_subcommand_from warp rectify predict model completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c stn -n "__fish_stn_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "list" -d 'List the built-in models: name, input and output sizes, transform family, purpose'
complete -c stn -n "__fish_stn_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "info" -d 'Print a model\'s inputs, outputs, metadata and the contract stn reads from it'
