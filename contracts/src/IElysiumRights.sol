// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The part of the rights registry that ElysiumItems consults for royalties.
interface IElysiumRights {
    /// @notice Who is paid royalties for `tokenId` at time `at`, and at which share.
    /// @return found true when the token is linked to a work that has a licence valid at `at`
    /// @return receiver the work's creator
    /// @return shareBps the share of the newest licence valid at `at`, in basis points
    function royaltyFor(uint256 tokenId, uint256 at)
        external
        view
        returns (bool found, address receiver, uint16 shareBps);
}
