//! `onnx [--input NAME] [--shape D0,D1,...]`: runs the ONNX model `/inputs/model.onnx` with tract on the tensor
//! in `/inputs/NAME` (default `input`; raw little-endian f32, row-major, of the given shape, default 1,64),
//! prints every output value and the index of the largest (the class, for a classifier), and writes the first
//! output as raw little-endian f32 to `/outputs/output.f32`.
//!
//! Run inside the Ocean sandbox the arithmetic is WebAssembly's: IEEE-754 with canonical NaNs and no
//! host-specific kernels, so the output bytes are the same on every provider.

use std::process::ExitCode;

use tract_onnx::prelude::*;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("onnx: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut input = String::from("input");
    let mut shape: Vec<usize> = vec![1, 64];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next().ok_or_else(|| anyhow::anyhow!("{a} needs a value"))?;
        match a.as_str() {
            "--input" => input = value,
            "--shape" => {
                shape = value.split(',').map(|d| d.trim().parse()).collect::<Result<_, _>>()?;
            }
            _ => anyhow::bail!("usage: onnx [--input NAME] [--shape D0,D1,...]"),
        }
    }
    let bytes = std::fs::read(format!("/inputs/{input}"))?;
    let count: usize = shape.iter().product();
    if bytes.len() != count * 4 {
        anyhow::bail!("/inputs/{input} has {} bytes; shape {shape:?} needs {}", bytes.len(), count * 4);
    }
    let values: Vec<f32> =
        bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let model = tract_onnx::onnx()
        .model_for_path("/inputs/model.onnx")?
        .with_input_fact(0, f32::fact(&shape).into())?
        .into_optimized()?
        .into_runnable()?;
    let tensor = Tensor::from_shape(&shape, &values)?;
    let outputs = model.run(tvec!(tensor.into()))?;
    let first = outputs.first().ok_or_else(|| anyhow::anyhow!("the model has no output"))?;
    let view = first.to_plain_array_view::<f32>()?;
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, v) in view.iter().enumerate() {
        println!("{i} {v:.9e}");
        if *v > best.1 {
            best = (i, *v);
        }
    }
    println!("class {}", best.0);
    let raw: Vec<u8> = view.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write("/outputs/output.f32", raw)?;
    Ok(())
}
