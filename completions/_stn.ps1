
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'stn' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'stn'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'stn' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--max-pixels', '--max-pixels', [CompletionResultType]::ParameterName, 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('warp', 'warp', [CompletionResultType]::ParameterValue, 'Apply an affine, projective or thin-plate-spline transform to an image')
            [CompletionResult]::new('rectify', 'rectify', [CompletionResultType]::ParameterValue, 'Rectify images: predict a theta per image with a localisation net, then warp')
            [CompletionResult]::new('predict', 'predict', [CompletionResultType]::ParameterValue, 'Predict thetas without warping: one JSON line per image on standard output')
            [CompletionResult]::new('model', 'model', [CompletionResultType]::ParameterValue, 'List the built-in localisation models, or inspect one or an ONNX file')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'stn;warp' {
            [CompletionResult]::new('--theta', '--theta', [CompletionResultType]::ParameterName, 'PyTorch theta, six numbers a,b,c,d,e,f (row-major 2×3; output → input, normalised coordinates)')
            [CompletionResult]::new('--homography', '--homography', [CompletionResultType]::ParameterName, 'Homography, nine numbers h11,…,h33 (row-major 3×3; output → input, normalised coordinates, like --theta). Where h31·x + h32·y + h33 ≤ 0 the output is 0')
            [CompletionResult]::new('--perspective', '--perspective', [CompletionResultType]::ParameterName, 'OpenCV perspective matrix, nine numbers (row-major 3×3; source pixel → destination pixel, pixel centres at integers, as cv2.warpPerspective)')
            [CompletionResult]::new('--corners', '--corners', [CompletionResultType]::ParameterName, 'Document-scanner corners x1,y1,…,x4,y4: the input pixel positions (centres at integers) that the output''s top-left, top-right, bottom-right and bottom-left pixel centres come from (as cv2.getPerspectiveTransform + warpPerspective). Needs --size')
            [CompletionResult]::new('--tps', '--tps', [CompletionResultType]::ParameterName, 'Thin-plate spline: a JSON file `{"target": [[x, y], …], "source": [[x, y], …]}` of output points and the input points they sample (normalised)')
            [CompletionResult]::new('--matrix', '--matrix', [CompletionResultType]::ParameterName, 'OpenCV pixel matrix, six numbers (row-major 2×3; source pixel → destination pixel, pixel centres at integers, as cv2.warpAffine)')
            [CompletionResult]::new('--thetas', '--thetas', [CompletionResultType]::ParameterName, 'Apply a JSON-lines thetas file (from `stn predict` or `rectify --thetas`): each line''s image is warped into the output directory. Lines carry a "theta", a "homography" or a "tps"')
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Output size [default: the input''s size]')
            [CompletionResult]::new('--interp', '--interp', [CompletionResultType]::ParameterName, 'Interpolation kernel')
            [CompletionResult]::new('--padding', '--padding', [CompletionResultType]::ParameterName, 'What lies outside the input [default: zeros, or the model''s stn.padding]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: from the output''s extension; PNG on stdout]')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'With --thetas: take only shard I of N (I = 0 … N−1), the lines whose output path hashes to I mod N')
            [CompletionResult]::new('--png-compression', '--png-compression', [CompletionResultType]::ParameterName, 'PNG compression: fast (default, larger files) to best (smallest, slowest)')
            [CompletionResult]::new('--quality', '--quality', [CompletionResultType]::ParameterName, 'JPEG quality, 1-100, on libjpeg''s scale (as OpenCV and Pillow)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output image; `-` writes standard output. With --thetas, a directory')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output image; `-` writes standard output. With --thetas, a directory')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--max-pixels', '--max-pixels', [CompletionResultType]::ParameterName, 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs')
            [CompletionResult]::new('--align-corners', '--align-corners', [CompletionResultType]::ParameterName, 'Normalised ±1 are the centres of the corner pixels, not their outer edges')
            [CompletionResult]::new('--overwrite', '--overwrite', [CompletionResultType]::ParameterName, 'Allow the output to replace the input file (with --thetas: replace existing outputs)')
            [CompletionResult]::new('--skip-existing', '--skip-existing', [CompletionResultType]::ParameterName, 'With --thetas: leave existing outputs alone and count them as skipped')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'stn;rectify' {
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Take only shard I of N (I = 0 … N−1): the files whose relative path hashes to I mod N. The N runs 0/N … (N−1)/N together do one run''s work')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output directory; outputs mirror the inputs'' relative paths')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output directory; outputs mirror the inputs'' relative paths')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: the input''s]')
            [CompletionResult]::new('--png-compression', '--png-compression', [CompletionResultType]::ParameterName, 'PNG compression: fast (default, larger files) to best (smallest, slowest)')
            [CompletionResult]::new('--quality', '--quality', [CompletionResultType]::ParameterName, 'JPEG quality, 1-100, on libjpeg''s scale (as OpenCV and Pillow)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'The localisation net: a built-in model (mnist, doc-page) or an ONNX file [default: mnist]')
            [CompletionResult]::new('--batch', '--batch', [CompletionResultType]::ParameterName, 'Images per inference batch')
            [CompletionResult]::new('--input-size', '--input-size', [CompletionResultType]::ParameterName, 'Model input size [default: from the model]')
            [CompletionResult]::new('--mean', '--mean', [CompletionResultType]::ParameterName, 'Per-channel mean subtracted after scaling pixels to [0, 1] [default: from the model, else 0]')
            [CompletionResult]::new('--std', '--std', [CompletionResultType]::ParameterName, 'Per-channel divisor applied after the mean [default: from the model, else 1]')
            [CompletionResult]::new('--ort-lib', '--ort-lib', [CompletionResultType]::ParameterName, 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]')
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Output size [default: the input''s size]')
            [CompletionResult]::new('--interp', '--interp', [CompletionResultType]::ParameterName, 'Interpolation kernel')
            [CompletionResult]::new('--padding', '--padding', [CompletionResultType]::ParameterName, 'What lies outside the input [default: zeros, or the model''s stn.padding]')
            [CompletionResult]::new('--thetas', '--thetas', [CompletionResultType]::ParameterName, 'Also write the thetas as JSON lines to FILE')
            [CompletionResult]::new('--overlay', '--overlay', [CompletionResultType]::ParameterName, 'Also write each input with the sampled region outlined into DIR: the quadrilateral of an affine or projective transform, the image of the output''s border (a curve) for a thin-plate spline, one per part')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--max-pixels', '--max-pixels', [CompletionResultType]::ParameterName, 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar')
            [CompletionResult]::new('--overwrite', '--overwrite', [CompletionResultType]::ParameterName, 'Replace existing outputs')
            [CompletionResult]::new('--skip-existing', '--skip-existing', [CompletionResultType]::ParameterName, 'Leave existing outputs alone and count them as skipped')
            [CompletionResult]::new('--align-corners', '--align-corners', [CompletionResultType]::ParameterName, 'Normalised ±1 are the centres of the corner pixels, not their outer edges')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'stn;predict' {
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Take only shard I of N (I = 0 … N−1): the files whose relative path hashes to I mod N. The N runs 0/N … (N−1)/N together do one run''s work')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'The localisation net: a built-in model (mnist, doc-page) or an ONNX file [default: mnist]')
            [CompletionResult]::new('--batch', '--batch', [CompletionResultType]::ParameterName, 'Images per inference batch')
            [CompletionResult]::new('--input-size', '--input-size', [CompletionResultType]::ParameterName, 'Model input size [default: from the model]')
            [CompletionResult]::new('--mean', '--mean', [CompletionResultType]::ParameterName, 'Per-channel mean subtracted after scaling pixels to [0, 1] [default: from the model, else 0]')
            [CompletionResult]::new('--std', '--std', [CompletionResultType]::ParameterName, 'Per-channel divisor applied after the mean [default: from the model, else 1]')
            [CompletionResult]::new('--ort-lib', '--ort-lib', [CompletionResultType]::ParameterName, 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]')
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Output size recorded in each line [default: from the model]')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--max-pixels', '--max-pixels', [CompletionResultType]::ParameterName, 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'stn;model' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--max-pixels', '--max-pixels', [CompletionResultType]::ParameterName, 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the built-in models: name, input and output sizes, transform family, purpose')
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Print a model''s inputs, outputs, metadata and the contract stn reads from it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'stn;model;list' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--max-pixels', '--max-pixels', [CompletionResultType]::ParameterName, 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'stn;model;info' {
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'The localisation net: a built-in model (mnist, doc-page) or an ONNX file [default: mnist]')
            [CompletionResult]::new('--ort-lib', '--ort-lib', [CompletionResultType]::ParameterName, 'The ONNX Runtime shared library (libonnxruntime.so.*) [default: search ORT_DYLIB_PATH, beside the executable, the user cache, the build location]')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--max-pixels', '--max-pixels', [CompletionResultType]::ParameterName, 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'stn;model;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the built-in models: name, input and output sizes, transform family, purpose')
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Print a model''s inputs, outputs, metadata and the contract stn reads from it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'stn;model;help;list' {
            break
        }
        'stn;model;help;info' {
            break
        }
        'stn;model;help;help' {
            break
        }
        'stn;completions' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads [default: one per core]')
            [CompletionResult]::new('--max-pixels', '--max-pixels', [CompletionResultType]::ParameterName, 'Refuse images (decoded or requested) of more pixels than this: a guard against decompression bombs')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'stn;help' {
            [CompletionResult]::new('warp', 'warp', [CompletionResultType]::ParameterValue, 'Apply an affine, projective or thin-plate-spline transform to an image')
            [CompletionResult]::new('rectify', 'rectify', [CompletionResultType]::ParameterValue, 'Rectify images: predict a theta per image with a localisation net, then warp')
            [CompletionResult]::new('predict', 'predict', [CompletionResultType]::ParameterValue, 'Predict thetas without warping: one JSON line per image on standard output')
            [CompletionResult]::new('model', 'model', [CompletionResultType]::ParameterValue, 'List the built-in localisation models, or inspect one or an ONNX file')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'stn;help;warp' {
            break
        }
        'stn;help;rectify' {
            break
        }
        'stn;help;predict' {
            break
        }
        'stn;help;model' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the built-in models: name, input and output sizes, transform family, purpose')
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Print a model''s inputs, outputs, metadata and the contract stn reads from it')
            break
        }
        'stn;help;model;list' {
            break
        }
        'stn;help;model;info' {
            break
        }
        'stn;help;completions' {
            break
        }
        'stn;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
