"""Prefetching inside Numba kernels: ask the CPU to start loading memory that a loop will read soon.

Why the fused kernels need it: a shuffled batch visits its reviews in random order, so each
review's entries (``Bags.ids`` and ``Bags.counts``) start somewhere new in arrays of 10-20 MB. The
first read of each review then waits for main memory (~150 ns on an AMD EPYC here) before the
hardware prefetcher notices the stream and fetches the rest. Asking for a later review's first
cache lines while the current one is summed overlaps that wait with useful work.

A prefetch is only a hint: it never changes a result and never raises, whatever the address; on a
CPU without such an instruction LLVM drops it. The NumPy references need nothing like it.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

CACHE_LINE = 64          # bytes loaded together from memory (x86-64 and most ARM cores)


@intrinsic
def prefetch(typingctx, array, start, stop):
    """prefetch(array, start, stop) in a Numba kernel: start loading array[start:stop] (1-D) into the
    caches, one hint per cache line; an empty range asks for nothing."""
    if not (isinstance(array, types.Array) and array.ndim == 1 and isinstance(start, types.Integer)
            and isinstance(stop, types.Integer)):
        return None                                  # Numba then reports no matching signature

    def codegen(context, builder, signature, args):
        array_type, start_type, stop_type = signature.args
        view = context.make_array(array_type)(context, builder, args[0])
        first = context.cast(builder, args[1], start_type, types.intp)      # indices of any integer type
        end = context.cast(builder, args[2], stop_type, types.intp)
        step = context.get_constant(types.intp, max(1, CACHE_LINE // context.get_abi_sizeof(
            context.get_data_type(array_type.dtype))))
        byte_pointer = ir.IntType(8).as_pointer()
        # declare_intrinsic spells the name for the pointer type of this llvmlite ("llvm.prefetch.p0"
        # with opaque pointers, "llvm.prefetch.p0i8" in older versions)
        llvm_prefetch = builder.module.declare_intrinsic(
            "llvm.prefetch", [byte_pointer], ir.FunctionType(ir.VoidType(), [byte_pointer] + [ir.IntType(32)] * 3))
        with cgutils.for_range_slice(builder, first, end, step) as (index, _):
            address = cgutils.get_item_pointer(context, builder, array_type, view, [index], wraparound=False)
            # llvm.prefetch(address, 0 = for reading, 3 = keep in every cache level, 1 = data, not code)
            builder.call(llvm_prefetch, [builder.bitcast(address, byte_pointer)]
                         + [ir.Constant(ir.IntType(32), flag) for flag in (0, 3, 1)])
        return context.get_dummy_value()

    return types.void(array, start, stop), codegen
